"""The MiniLM ONNX embedder reproduces sentence-transformers' all-MiniLM-L6-v2 vectors.

The model comes from `make model` (`.sluice/models/all-MiniLM-L6-v2`; `SLUICE_TEST_MODEL_DIR`
overrides). Without it these tests fail rather than skip: CI builds the model first. The
reference vectors were made by sentence-transformers itself
(`tools/model/make_reference_vectors.py`).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sluice.embedders.catalogue import MODELS
from sluice.embedders.onnx import OnnxEmbedder
from sluice.errors import ConfigError
from sluice.settings import EmbedderSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
REFERENCE_FILE = Path(__file__).parent / "testdata" / "minilm_reference.json"
MIN_COSINE = 0.999
CARD = MODELS["all-MiniLM-L6-v2"]


def _model_dir() -> Path:
    override = os.environ.get("SLUICE_TEST_MODEL_DIR")
    return Path(override) if override else REPO_ROOT / ".sluice" / "models" / "all-MiniLM-L6-v2"


def _require_model() -> Path:
    """The model directory; fails (never skips) when the model has not been built."""
    model_dir = _model_dir()
    if not (model_dir / "manifest.json").is_file():
        pytest.fail(
            f"the MiniLM model is not built in {model_dir}: run `make model` "
            f"(uv run python tools/model/export_minilm.py --out {model_dir})"
        )
    return model_dir


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    """The embedder on the exported model, all cores."""
    return OnnxEmbedder(CARD, _require_model(), threads=0)


def test_the_model_is_built():
    assert (_require_model() / "model.onnx").is_file()


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """Sentences and sentence-transformers' vectors for them."""
    data = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))
    assert data["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert len(data["sentences"]) == len(data["vectors"]) >= 30
    return {"sentences": data["sentences"], "vectors": data["vectors"]}


def _array(vectors: list[list[float]]) -> Any:
    return np.asarray(vectors, dtype=np.float64)


def _words(count: int) -> str:
    vocabulary = (
        "river gate water channel flow level lock canal boat pressure valve stream dam "
        "turbine sediment basin spillway reservoir flood drought"
    ).split()
    return " ".join(vocabulary[(i * 7) % len(vocabulary)] + str(i % 13) for i in range(count))


def test_the_identity_comes_from_the_manifest_and_is_the_declared_one(embedder: OnnxEmbedder):
    manifest = json.loads((_model_dir() / "manifest.json").read_text(encoding="utf-8"))
    assert embedder.identity.name == manifest["name"] == "all-MiniLM-L6-v2"
    assert embedder.identity.dim == manifest["dim"] == 384
    assert embedder.identity.version == manifest["version"]
    # What every process that does not load the model (ingest, index) takes it to be.
    assert embedder.identity == EmbedderSettings(model="all-MiniLM-L6-v2").identity()
    assert embedder.max_tokens == manifest["max_tokens"] == 256


def test_matches_sentence_transformers_for_every_reference_sentence(
    embedder: OnnxEmbedder, reference: dict[str, Any]
):
    got = _array(embedder.embed(reference["sentences"]))
    expected = _array(reference["vectors"])
    cosines = (got * expected).sum(axis=1) / (
        np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1)
    )
    failures = {
        sentence[:60]: round(float(c), 6)
        for sentence, c in zip(reference["sentences"], cosines, strict=True)
        if c < MIN_COSINE
    }
    assert not failures, f"cosine < {MIN_COSINE}: {failures}"


def test_reference_sentences_one_by_one_match_too(
    embedder: OnnxEmbedder, reference: dict[str, Any]
):
    for sentence, expected in zip(reference["sentences"], reference["vectors"], strict=True):
        (got,) = embedder.embed([sentence])
        assert float(np.dot(got, expected)) >= MIN_COSINE, sentence[:60]


def test_a_text_gets_the_same_vector_alone_and_in_a_padded_batch(embedder: OnnxEmbedder):
    texts = ["short query", "Vitamin D reduces fractures.", ""]
    long_texts = [_words(150), _words(400), "a " * 300]
    alone = _array([embedder.embed([t])[0] for t in texts])
    batch = _array(embedder.embed([long_texts[0], texts[0], long_texts[1], texts[1], texts[2]]))
    mixed = batch[[1, 3, 4]]
    np.testing.assert_allclose(mixed, alone, atol=1e-5)
    reversed_batch = _array(embedder.embed(list(reversed(texts)) + long_texts))
    np.testing.assert_allclose(reversed_batch[:3][::-1], alone, atol=1e-5)


def test_long_texts_are_truncated_to_256_tokens(embedder: OnnxEmbedder):
    text = _words(2000)
    tokenizer = embedder._tokenizer
    (encoding,) = tokenizer.encode_batch([text])
    assert len(encoding.ids) == 256  # [CLS] + 254 word pieces + [SEP]
    head_end = encoding.offsets[254][1]  # end of the last word piece kept
    head = text[:head_end]
    (head_encoding,) = tokenizer.encode_batch([head])
    assert head_encoding.ids == encoding.ids
    full, prefix = embedder.embed([text, head])
    np.testing.assert_allclose(full, prefix, atol=1e-5)
    (longer,) = embedder.embed([text + " " + _words(500)])
    np.testing.assert_allclose(longer, full, atol=1e-5)


@pytest.mark.parametrize(
    "texts",
    [
        ["one"],
        ["", "   ", "!!!"],
        ["Café 東京 42 🙂", "The quick brown fox jumps over the lazy dog. " * 40],
    ],
)
def test_vectors_are_float32_unit_vectors(embedder: OnnxEmbedder, texts: list[str]):
    vectors = embedder.embed(texts)
    assert len(vectors) == len(texts)
    for vector in vectors:
        assert isinstance(vector, list)
        assert len(vector) == 384
        assert all(type(x) is float for x in vector)
        as32 = np.asarray(vector, dtype=np.float32)
        assert as32.astype(np.float64).tolist() == vector  # exactly float32 values
        assert float(np.linalg.norm(as32.astype(np.float64))) == pytest.approx(1.0, abs=1e-5)


def test_empty_list_gives_empty_list(embedder: OnnxEmbedder):
    assert embedder.embed([]) == []


def test_similar_texts_are_closer_than_unrelated_ones(embedder: OnnxEmbedder):
    q, s, u = _array(
        embedder.embed(
            [
                "How do I reset a forgotten password?",
                "Steps to recover access when you lost your password",
                "Volcanic eruptions in Iceland disrupted flights",
            ]
        )
    )
    assert float(q @ s) > float(q @ u) + 0.3


def test_threads_setting_does_not_change_the_vectors(embedder: OnnxEmbedder):
    texts = ["threads should not matter", _words(300)]
    single = OnnxEmbedder(CARD, _model_dir(), threads=1)
    single.warm()
    assert single._session is not None
    assert single._session.get_session_options().intra_op_num_threads == 1
    np.testing.assert_allclose(
        _array(single.embed(texts)), _array(embedder.embed(texts)), atol=1e-5
    )


def test_missing_model_dir_raises_config_error_saying_how_to_build_it(tmp_path: Path):
    missing = tmp_path / "no-such-model"
    with pytest.raises(ConfigError) as caught:
        OnnxEmbedder(CARD, missing)
    message = str(caught.value)
    assert str(missing) in message
    assert "make model" in message
    assert f"uv run python tools/model/export_minilm.py --out {missing}" in message


def test_incomplete_model_dir_names_the_missing_files(tmp_path: Path):
    (tmp_path / "manifest.json").write_text("{}", encoding="utf-8")
    with pytest.raises(ConfigError, match=r"model\.onnx") as caught:
        OnnxEmbedder(CARD, tmp_path)
    assert "tokenizer.json" in str(caught.value)
    assert "make model" in str(caught.value)


def test_invalid_manifest_raises_config_error(tmp_path: Path):
    for name in ("tokenizer.json", "model.onnx"):
        (tmp_path / name).write_bytes(b"")
    (tmp_path / "manifest.json").write_text('{"name": "x"}', encoding="utf-8")
    with pytest.raises(ConfigError, match="make model"):
        OnnxEmbedder(CARD, tmp_path)


@pytest.mark.parametrize("broken", ["tokenizer.json", "model.onnx"])
def test_unreadable_model_files_raise_config_error(tmp_path: Path, broken: str):
    model_dir = _require_model()
    for name in ("manifest.json", "tokenizer.json", "model.onnx"):
        target = tmp_path / name
        if name == broken:
            target.write_bytes(b"not a valid file")
        else:
            target.symlink_to(model_dir / name)
    with pytest.raises(ConfigError, match=broken.replace(".", r"\.")) as caught:
        OnnxEmbedder(CARD, tmp_path).warm()  # the model itself loads in the process that uses it
    assert "make model" in str(caught.value)
