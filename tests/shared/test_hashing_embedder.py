"""The hashing embedder: deterministic unit vectors that follow its written specification."""

from __future__ import annotations

import hashlib
import itertools
import json
import math
import struct
from pathlib import Path

import pytest

from sluice.embedders.hashing import HashingEmbedder, tokenize

VECTORS_FILE = Path(__file__).parent / "testdata" / "hashing_vectors.json"


def _cosine(a: list[float], b: list[float]) -> float:
    return sum(x * y for x, y in zip(a, b, strict=True))


def _norm(vector: list[float]) -> float:
    return math.sqrt(sum(x * x for x in vector))


def _reference(text: str, dim: int) -> list[float]:
    """The specification of the module docstring, written out independently."""
    tokens = tokenize(text)
    features = tokens + [f"{a} {b}" for a, b in itertools.pairwise(tokens)]
    counts = [0] * dim
    for feature in features:
        h = int.from_bytes(hashlib.sha256(feature.encode("utf-8")).digest()[:8], "big")
        counts[h % dim] += -1 if h >> 63 else 1
    norm = math.sqrt(sum(c * c for c in counts))
    if norm == 0:
        return [0.0] * dim
    return [struct.unpack("f", struct.pack("f", c / norm))[0] for c in counts]


@pytest.mark.parametrize(
    ("text", "tokens"),
    [
        ("Hello, World!", ["hello", "world"]),
        ("MiXeD CaSe", ["mixed", "case"]),
        ("don't stop-me_now", ["don", "t", "stop", "me", "now"]),
        ("abc123 4.5 2024-01-02", ["abc123", "4", "5", "2024", "01", "02"]),
        ("Café Müller", ["café", "müller"]),
        ("ÀÉÎÕÜ", ["àéîõü"]),
        ("Cafe\u0301", ["cafe"]),  # a combining accent is not alphanumeric: no normalization
        ("東京は日本の首都です。北京", ["東京は日本の首都です", "北京"]),
        ("Привет, мир", ["привет", "мир"]),
        ("I ❤ NY 🍕!", ["i", "ny"]),
        ("x² ½", ["x²", "½"]),
        ("ΣΑΣ", ["σας"]),  # str.lower(): a final capital sigma becomes ς
        ("tab\tnew\nline\u00a0nbsp", ["tab", "new", "line", "nbsp"]),
        ("", []),
        (" \t\n ... !!! ", []),
    ],
)
def test_tokenize(text: str, tokens: list[str]):
    assert tokenize(text) == tokens


@pytest.mark.parametrize("dim", [8, 32, 384, 1000])
def test_dimension_is_respected(dim: int):
    embedder = HashingEmbedder(dim)
    vectors = embedder.embed(["one text", "", "another text with more words"])
    assert [len(v) for v in vectors] == [dim, dim, dim]
    assert embedder.identity.dim == dim
    assert embedder.identity.name == "hashing"


@pytest.mark.parametrize(
    "text",
    ["word", "two words", "The quick brown fox jumps over the lazy dog. " * 20, "Café 東京 42"],
)
@pytest.mark.parametrize("dim", [8, 384])
def test_vectors_have_unit_norm_in_float32(text: str, dim: int):
    (vector,) = HashingEmbedder(dim).embed([text])
    assert _norm(vector) == pytest.approx(1.0, abs=1e-6)
    for value in vector:
        assert struct.unpack("f", struct.pack("f", value))[0] == value  # exactly a float32


@pytest.mark.parametrize("text", ["", "   ", "!!! ??? ...", "🙂 ❤️ 🍕", "— … —"])
def test_text_without_alphanumerics_gives_the_zero_vector(text: str):
    assert HashingEmbedder(64).embed([text]) == [[0.0] * 64]


def test_deterministic_across_instances_and_batches():
    texts = ["alpha beta", "gamma delta epsilon", "", "Café Müller"]
    first = HashingEmbedder(384).embed(texts)
    again = HashingEmbedder(384)
    assert again.embed(texts) == first
    assert again.embed(texts) == first  # the bucket cache changes nothing
    assert [again.embed([t])[0] for t in reversed(texts)] == list(reversed(first))


def test_case_and_punctuation_do_not_change_the_vector():
    embedder = HashingEmbedder(384)
    a, b = embedder.embed(["Hello, World!", "hello world"])
    assert a == b


def test_word_order_changes_the_vector_through_bigrams():
    a, b = HashingEmbedder(384).embed(["dog bites man", "man bites dog"])
    assert a != b
    assert _cosine(a, b) > 0.3  # but the shared unigrams keep them close


@pytest.mark.parametrize(
    ("query", "similar", "unrelated"),
    [
        ("the cat sat on the mat", "the cat sat on a mat", "quarterly revenue grew in europe"),
        (
            "how to reset a forgotten password",
            "reset forgotten password instructions",
            "volcanic eruptions in iceland",
        ),
        ("Milvus stores vectors for search", "vector search with Milvus", "baking sourdough"),
    ],
)
def test_similar_texts_are_closer_than_unrelated_ones(query: str, similar: str, unrelated: str):
    q, s, u = HashingEmbedder(384).embed([query, similar, unrelated])
    assert _cosine(q, s) > _cosine(q, u) + 0.1


@pytest.mark.parametrize(
    "text",
    ["hello", "a b", "a a a", "The quick brown fox jumps over the lazy dog", "Ünïcödé 東京 42"],
)
@pytest.mark.parametrize("dim", [32, 384])
def test_follows_the_specification(text: str, dim: int):
    assert HashingEmbedder(dim).embed([text]) == [_reference(text, dim)]


def test_a_single_token_is_one_signed_unit_component():
    digest = hashlib.sha256(b"hello").digest()[:8]
    h = int.from_bytes(digest, "big")
    expected = [0.0] * 384
    expected[h % 384] = -1.0 if h >> 63 else 1.0
    assert HashingEmbedder(384).embed(["HELLO!"]) == [expected]


def _load_vector_cases() -> list[dict[str, object]]:
    return json.loads(VECTORS_FILE.read_text(encoding="utf-8"))["cases"]


def _decode(encoded: str) -> list[float]:
    raw = bytes.fromhex(encoded)
    return list(struct.unpack(f">{len(raw) // 4}f", raw))


def test_vector_file_covers_the_agreed_inputs():
    cases = _load_vector_cases()
    texts = {str(c["text"]) for c in cases}
    assert len(texts) >= 12
    for text in texts:
        assert {c["dim"] for c in cases if c["text"] == text} == {32, 384}
    assert "" in texts
    assert any(len(t) >= 2000 for t in texts)
    assert any(not t.isascii() for t in texts)


@pytest.mark.parametrize("case", _load_vector_cases(), ids=lambda c: f"{c['name']}-{c['dim']}")
def test_reproduces_the_shared_test_vectors_exactly(case: dict[str, object]):
    text, dim = str(case["text"]), int(case["dim"])  # type: ignore[call-overload]
    expected = _decode(str(case["vector_f32be_hex"]))
    assert len(expected) == dim
    assert tokenize(text) == case["tokens"]
    (vector,) = HashingEmbedder(dim).embed([text])
    # Compare bit patterns, so that -0.0 vs 0.0 or any rounding difference shows.
    assert struct.pack(f">{dim}f", *vector) == struct.pack(f">{dim}f", *expected)
