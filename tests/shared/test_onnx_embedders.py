"""The ONNX embedders of the catalogue: all-MiniLM-L6-v2 (fp32), its int8 build, e5-small-v2.

The models come from `make model MODEL=all` (`.sluice/models/<name>`; `SLUICE_TEST_MODELS_DIR`
overrides the parent folder). Without them these tests fail rather than skip: CI builds them
first. What each model is checked against (docs/models.md has the measurements):

- all-MiniLM-L6-v2: sentence-transformers' own vectors (`testdata/minilm_reference.json`, made
  by `tools/model/make_reference_vectors.py`), cosine >= 0.999 for every sentence;
- all-MiniLM-L6-v2-int8: the same sentence-transformers vectors, cosine >= 0.975 for every
  sentence and >= 0.99 on average (measured: min 0.9847, on the empty and whitespace-only
  texts, mean 0.9951; plain per-tensor int8 was 0.95 on average and fails);
- e5-small-v2: no torch weights of e5 are in any registry, so there is no reference of the
  model itself. Two checks instead: langchain4j's Java implementation on the same ONNX file
  (`testdata/e5_small_v2_langchain4j.json`, `tools/model/make_e5_langchain4j_vectors.py`: its
  own tokenizer binding, onnxruntime 1.20, pooling), cosine >= 0.995 each and >= 0.999 on
  average (measured min 0.9971, mean 0.99955); and regression vectors of our own run
  (`testdata/e5_small_v2_regression.json`, `tools/model/make_e5_regression.py`), plus checks of
  what the card promises: the `query: ` / `passage: ` prefixes are applied, queries are nearest
  their own passages, 512 tokens are kept.
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Any

import numpy as np
import pytest

from sluice.embedders.catalogue import MODELS, ModelCard
from sluice.embedders.onnx import OnnxEmbedder
from sluice.errors import ConfigError
from sluice.settings import EmbedderSettings

REPO_ROOT = Path(__file__).resolve().parents[2]
TESTDATA = Path(__file__).parent / "testdata"
REFERENCE_FILE = TESTDATA / "minilm_reference.json"
E5_REGRESSION_FILE = TESTDATA / "e5_small_v2_regression.json"
FP32, INT8, E5 = "all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8", "e5-small-v2"
NAMES = (FP32, INT8, E5)
CARD = MODELS[FP32]
MIN_COSINE = 0.999  # fp32 against sentence-transformers
INT8_MIN_COSINE = 0.975  # int8 against sentence-transformers, each sentence
INT8_MEAN_COSINE = 0.99  # and on average
E5_REGRESSION_COSINE = 0.9999  # e5 against its own pinned run (other CPUs, other BLAS paths)
E5_LANGCHAIN4J_FILE = TESTDATA / "e5_small_v2_langchain4j.json"
E5_LANGCHAIN4J_MIN_COSINE = 0.995  # e5 against langchain4j's run of the same file, each text
E5_LANGCHAIN4J_MEAN_COSINE = 0.999  # and on average


def _models_dir() -> Path:
    override = os.environ.get("SLUICE_TEST_MODELS_DIR")
    return Path(override) if override else REPO_ROOT / ".sluice" / "models"


def _model_dir(name: str = FP32) -> Path:
    return _models_dir() / name


def _require_model(name: str = FP32) -> Path:
    """The model directory; fails (never skips) when the model has not been built."""
    model_dir = _model_dir(name)
    if not (model_dir / "manifest.json").is_file():
        pytest.fail(f"{name} is not built in {model_dir}: run `make model MODEL={name}`")
    return model_dir


_LOADED: dict[str, OnnxEmbedder] = {}


def _embedder(name: str) -> OnnxEmbedder:
    if name not in _LOADED:
        _LOADED[name] = OnnxEmbedder(MODELS[name], _require_model(name), threads=0)
    return _LOADED[name]


@pytest.fixture(scope="module", params=NAMES)
def any_embedder(request: pytest.FixtureRequest) -> OnnxEmbedder:
    """Each catalogue ONNX model in turn, all cores."""
    return _embedder(request.param)


@pytest.fixture(scope="module")
def embedder() -> OnnxEmbedder:
    """all-MiniLM-L6-v2 fp32."""
    return _embedder(FP32)


@pytest.fixture(scope="module")
def int8() -> OnnxEmbedder:
    return _embedder(INT8)


@pytest.fixture(scope="module")
def e5() -> OnnxEmbedder:
    return _embedder(E5)


@pytest.mark.parametrize("name", NAMES)
def test_the_model_is_built(name: str):
    assert (_require_model(name) / "model.onnx").is_file()


@pytest.fixture(scope="module")
def reference() -> dict[str, Any]:
    """Sentences and sentence-transformers' vectors for them."""
    data = json.loads(REFERENCE_FILE.read_text(encoding="utf-8"))
    assert data["model"] == "sentence-transformers/all-MiniLM-L6-v2"
    assert len(data["sentences"]) == len(data["vectors"]) >= 30
    return {"sentences": data["sentences"], "vectors": data["vectors"]}


def _array(vectors: list[list[float]]) -> Any:
    return np.asarray(vectors, dtype=np.float64)


def _cosines(got: Any, expected: Any) -> Any:
    return (got * expected).sum(axis=1) / (
        np.linalg.norm(got, axis=1) * np.linalg.norm(expected, axis=1)
    )


def _words(count: int) -> str:
    vocabulary = (
        "river gate water channel flow level lock canal boat pressure valve stream dam "
        "turbine sediment basin spillway reservoir flood drought"
    ).split()
    return " ".join(vocabulary[(i * 7) % len(vocabulary)] + str(i % 13) for i in range(count))


# --- every model ----------------------------------------------------------------------------


def test_the_identity_comes_from_the_manifest_and_is_the_cards(any_embedder: OnnxEmbedder):
    card = any_embedder.card
    manifest = json.loads((any_embedder.model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert any_embedder.identity.name == manifest["name"] == card.name
    assert any_embedder.identity.dim == manifest["dim"] == card.dim == 384
    assert any_embedder.identity.version == manifest["version"] == card.version
    # What every process that does not load the model (ingest, index) takes it to be.
    assert any_embedder.identity == EmbedderSettings(model=card.name).identity()
    assert any_embedder.max_tokens == manifest["max_tokens"] == card.max_tokens


def test_the_manifest_pins_the_files(any_embedder: OnnxEmbedder):
    import hashlib

    manifest = json.loads((any_embedder.model_dir / "manifest.json").read_text(encoding="utf-8"))
    for name in ("model.onnx", "tokenizer.json"):
        digest = hashlib.sha256((any_embedder.model_dir / name).read_bytes()).hexdigest()
        assert manifest["files"][name] == digest, name
    assert manifest["source"]


def test_a_text_gets_the_same_vector_alone_and_in_a_padded_batch(any_embedder: OnnxEmbedder):
    # The int8 models quantise activations per tensor, so they run one text at a time: a
    # text's vector never depends on its batch, for any model.
    texts = ["short query", "Vitamin D reduces fractures.", ""]
    long_texts = [_words(150), _words(400), "a " * 300]
    alone = _array([any_embedder.embed([t])[0] for t in texts])
    batch = _array(any_embedder.embed([long_texts[0], texts[0], long_texts[1], texts[1], texts[2]]))
    np.testing.assert_allclose(batch[[1, 3, 4]], alone, atol=1e-5)
    reversed_batch = _array(any_embedder.embed(list(reversed(texts)) + long_texts))
    np.testing.assert_allclose(reversed_batch[:3][::-1], alone, atol=1e-5)


def test_long_texts_are_truncated_to_the_cards_token_limit(any_embedder: OnnxEmbedder):
    limit = any_embedder.card.max_tokens
    text = _words(3000)
    (prefixed,) = any_embedder.card.prefixed([text], "passage")
    tokenizer = any_embedder._tokenizer
    (encoding,) = tokenizer.encode_batch([prefixed])
    assert len(encoding.ids) == limit  # [CLS] + limit - 2 word pieces + [SEP]
    head = prefixed[: encoding.offsets[limit - 2][1]]  # up to the last word piece kept
    (head_encoding,) = tokenizer.encode_batch([head])
    assert head_encoding.ids == encoding.ids
    full, longer = any_embedder.embed([text, text + " " + _words(500)])
    np.testing.assert_allclose(longer, full, atol=1e-5)
    shorter = _words(int(limit * 0.3))  # well under the limit: every word counts
    assert any_embedder.embed([shorter]) != any_embedder.embed([shorter + " flood3"])


@pytest.mark.parametrize(
    "texts",
    [
        ["one"],
        ["", "   ", "!!!"],
        ["Café 東京 42 🙂", "The quick brown fox jumps over the lazy dog. " * 40],
    ],
)
def test_vectors_are_float32_unit_vectors(any_embedder: OnnxEmbedder, texts: list[str]):
    for kind in ("query", "passage"):
        vectors = any_embedder.embed(texts, kind)  # type: ignore[arg-type]
        assert len(vectors) == len(texts)
        for vector in vectors:
            assert isinstance(vector, list)
            assert len(vector) == 384
            assert all(type(x) is float for x in vector)
            as32 = np.asarray(vector, dtype=np.float32)
            assert as32.astype(np.float64).tolist() == vector  # exactly float32 values
            assert float(np.linalg.norm(as32.astype(np.float64))) == pytest.approx(1.0, abs=1e-5)


def test_empty_list_gives_empty_list(any_embedder: OnnxEmbedder):
    assert any_embedder.embed([]) == []
    assert any_embedder.embed([], "query") == []


QUERIES = ["what causes scurvy", "what does insulin regulate", "why do volcanoes erupt"]
PASSAGES = [
    "Scurvy is caused by a prolonged lack of vitamin C in the diet.",
    "Insulin regulates blood glucose by promoting its uptake into cells.",
    "Volcanoes erupt when magma pressure exceeds the strength of the crust.",
]


def test_each_query_is_nearest_its_own_passage(any_embedder: OnnxEmbedder):
    # e5's cosines are compressed (unrelated texts ~0.75-0.8), hence the small margin.
    scores = (
        _array(any_embedder.embed(QUERIES, "query"))
        @ _array(any_embedder.embed(PASSAGES, "passage")).T
    )
    for i, row in enumerate(scores):
        others = np.delete(row, i)
        assert row[i] > others.max() + 0.05, (QUERIES[i], row.round(3).tolist())


def test_threads_setting_does_not_change_the_vectors(any_embedder: OnnxEmbedder):
    texts = ["threads should not matter", _words(300)]
    single = OnnxEmbedder(any_embedder.card, any_embedder.model_dir, threads=1)
    single.warm()
    assert single._session is not None
    assert single._session.get_session_options().intra_op_num_threads == 1
    np.testing.assert_allclose(
        _array(single.embed(texts)), _array(any_embedder.embed(texts)), atol=1e-5
    )


# --- all-MiniLM-L6-v2 fp32 ------------------------------------------------------------------


def test_matches_sentence_transformers_for_every_reference_sentence(
    embedder: OnnxEmbedder, reference: dict[str, Any]
):
    cosines = _cosines(_array(embedder.embed(reference["sentences"])), _array(reference["vectors"]))
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


def test_minilm_has_no_prefixes_and_queries_embed_as_passages(embedder: OnnxEmbedder):
    assert embedder.embed(QUERIES, "query") == embedder.embed(QUERIES, "passage")


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


# --- all-MiniLM-L6-v2-int8 ------------------------------------------------------------------


def test_int8_stays_near_sentence_transformers_vectors(
    int8: OnnxEmbedder, reference: dict[str, Any]
):
    cosines = _cosines(_array(int8.embed(reference["sentences"])), _array(reference["vectors"]))
    failures = {
        sentence[:60]: round(float(c), 4)
        for sentence, c in zip(reference["sentences"], cosines, strict=True)
        if c < INT8_MIN_COSINE
    }
    assert not failures, f"cosine < {INT8_MIN_COSINE}: {failures}"
    assert float(cosines.mean()) >= INT8_MEAN_COSINE


def test_int8_is_its_own_build_and_runs_text_by_text(int8: OnnxEmbedder, embedder: OnnxEmbedder):
    assert int8.identity.version.startswith("onnx-int8pc-")
    assert int8.identity != embedder.identity  # its vectors are not the fp32 model's
    assert int8.batch_invariant is False and embedder.batch_invariant is True
    manifest = json.loads((int8.model_dir / "manifest.json").read_text(encoding="utf-8"))
    assert manifest["source"].startswith(f"{FP32} {embedder.identity.version} ")
    assert int8.identity.version == "onnx-int8pc-" + manifest["files"]["model.onnx"][:12]


# --- e5-small-v2 ----------------------------------------------------------------------------


@pytest.fixture(scope="module")
def e5_regression() -> dict[str, Any]:
    data = json.loads(E5_REGRESSION_FILE.read_text(encoding="utf-8"))
    assert data["model"] == E5 and data["version"] == MODELS[E5].version
    assert len(data["items"]) >= 30
    return dict(data)


def test_e5_reproduces_its_pinned_regression_vectors(e5: OnnxEmbedder, e5_regression: Any):
    for kind in ("query", "passage"):
        items = [item for item in e5_regression["items"] if item["kind"] == kind]
        got = _array(e5.embed([item["text"] for item in items], kind))
        cosines = _cosines(got, _array([item["vector"] for item in items]))
        failures = {
            item["text"][:60]: round(float(c), 6)
            for item, c in zip(items, cosines, strict=True)
            if c < E5_REGRESSION_COSINE
        }
        assert not failures, f"{kind}: cosine < {E5_REGRESSION_COSINE}: {failures}"


def test_e5_agrees_with_langchain4j(e5: OnnxEmbedder):
    data = json.loads(E5_LANGCHAIN4J_FILE.read_text(encoding="utf-8"))
    assert data["model"] == E5 and data["version"] == MODELS[E5].version
    assert len(data["items"]) >= 40
    cosines = []
    for item in data["items"]:
        (got,) = e5.embed([item["text"]], item["kind"])
        cosines.append(float(_cosines(_array([got]), _array([item["vector"]]))[0]))
    failures = {
        item["text"][:60]: round(c, 5)
        for item, c in zip(data["items"], cosines, strict=True)
        if c < E5_LANGCHAIN4J_MIN_COSINE
    }
    assert not failures, f"cosine < {E5_LANGCHAIN4J_MIN_COSINE}: {failures}"
    assert float(np.mean(cosines)) >= E5_LANGCHAIN4J_MEAN_COSINE


def test_e5_prefixes_queries_and_passages(e5: OnnxEmbedder):
    card: ModelCard = e5.card
    assert (card.query_prefix, card.passage_prefix) == ("query: ", "passage: ")
    text = "what causes scurvy"
    (query,) = e5.embed([text], "query")
    (passage,) = e5.embed([text], "passage")
    assert query == e5._run(["query: " + text])[0]
    assert passage == e5._run(["passage: " + text])[0]
    assert query != passage
    # On one pair the prefix barely moves the score (0.896 with it, 0.901 without): what it does
    # for retrieval is measured on SciFact (docs/models.md), not asserted here.
    right = _array(e5.embed([PASSAGES[0]], "passage"))[0]
    assert float(_array([query])[0] @ right) > 0.85


def test_e5_keeps_up_to_512_tokens(e5: OnnxEmbedder):
    text = _words(180)  # past MiniLM's 256 word pieces, within e5's 512
    (encoding,) = e5._tokenizer.encode_batch(e5.card.prefixed([text], "passage"))
    assert 300 < len(encoding.ids) < 512
    head = text[: encoding.offsets[254][1]]  # what a 256-token limit would keep
    assert e5.embed([text]) != e5.embed([head])


def test_e5_is_fed_the_inputs_its_graph_has(e5: OnnxEmbedder):
    # The shipped graph takes them; the embedder feeds only the inputs a graph has.
    e5.warm()
    assert e5._session is not None
    assert {i.name for i in e5._session.get_inputs()} >= {"input_ids", "attention_mask"}
    assert e5._inputs == ("token_type_ids",)


# --- broken folders -------------------------------------------------------------------------


@pytest.mark.parametrize("name", NAMES)
def test_missing_model_dir_raises_config_error_saying_how_to_build_it(tmp_path: Path, name: str):
    missing = tmp_path / name
    with pytest.raises(ConfigError) as caught:
        OnnxEmbedder(MODELS[name], missing)
    message = str(caught.value)
    assert str(missing) in message
    assert f"make model MODEL={name}" in message
    assert f"uv run python tools/model/build.py --model {name} --models-dir {tmp_path}" in message


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


def _linked_copy(source: Path, target: Path, manifest: dict[str, Any] | None = None) -> Path:
    target.mkdir(parents=True, exist_ok=True)
    for name in ("tokenizer.json", "model.onnx"):
        (target / name).symlink_to(source / name)
    if manifest is None:
        (target / "manifest.json").symlink_to(source / "manifest.json")
    else:
        (target / "manifest.json").write_text(json.dumps(manifest), encoding="utf-8")
    return target


def test_a_folder_holding_another_build_is_refused(tmp_path: Path):
    source = _require_model(INT8)
    folder = _linked_copy(source, tmp_path / FP32)  # the int8 build where fp32 should be
    with pytest.raises(ConfigError, match="onnx-int8pc-"):
        OnnxEmbedder(CARD, folder)


def test_a_manifest_with_another_token_limit_is_refused(tmp_path: Path):
    source = _require_model(E5)
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    manifest["max_tokens"] = 256
    folder = _linked_copy(source, tmp_path / E5, manifest)
    with pytest.raises(ConfigError, match="512"):
        OnnxEmbedder(MODELS[E5], folder)


def test_a_manifest_with_a_bad_batch_invariant_is_refused(tmp_path: Path):
    source = _require_model(E5)
    manifest = json.loads((source / "manifest.json").read_text(encoding="utf-8"))
    manifest["batch_invariant"] = "no"
    folder = _linked_copy(source, tmp_path / E5, manifest)
    with pytest.raises(ConfigError, match="batch_invariant"):
        OnnxEmbedder(MODELS[E5], folder)


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
