"""Search quality does not silently break: a slice of SciFact through the real pipeline.

A stack of its own (temporary folder, free ports, the all-MiniLM-L6-v2 embedder that `make
model` exports) indexes ~300 SciFact documents with bench/eval_scifact.py's
harness; every query whose relevant documents are all in the slice is searched in each mode,
and nDCG@10 must stay above a floor per mode. The floors sit well below what the slice gives
(see bench/README.md) but above what a broken embedder, chunker or BM25 gives. The metric
functions are checked on hand-computed examples.
"""

from __future__ import annotations

import math
from pathlib import Path

import httpx
import pytest

from bench.eval_scifact import (
    DATA_DIR,
    MODES,
    Dataset,
    ModeResult,
    documents_by_best_chunk,
    documents_json,
    evaluate,
    index_documents,
    judged,
    load_dataset,
    load_qrels,
    make_stack,
    ndcg_at,
    recall_at,
    score,
    select_slice,
    slice_tenant,
)
from dev.stack import DEFAULT_MODEL, MODELS_DIR

MODEL_DIR = MODELS_DIR / DEFAULT_MODEL

SLICE_DOCS = 300
SEED = 42
MIN_QUERIES = 100
# nDCG@10 floors per mode. Measured on this slice (seeds 1-5 and 42): hybrid 0.86-0.90, dense
# 0.88-0.91, text 0.82-0.86; with the hashing embedder instead of the model, hybrid 0.67-0.71
# and dense 0.44-0.48. Random vectors or an empty BM25 field are far below.
FLOORS = {"hybrid": 0.80, "dense": 0.78, "text": 0.74}
RECALL_FLOOR = 0.85  # Recall@100 of every mode and embedder (measured 0.92 to 1.00)


@pytest.fixture(scope="module")
def quality(tmp_path_factory: pytest.TempPathFactory) -> tuple[str, dict[str, ModeResult]]:
    """The slice indexed and searched in every mode on a private stack: the embedder used
    and the results by mode. The stack is stopped before the tests look at the figures."""
    assert (DATA_DIR / "corpus.jsonl").is_file(), f"SciFact is not at {DATA_DIR}"
    assert (MODEL_DIR / "model.onnx").is_file(), f"no model in {MODEL_DIR}: run `make model`"
    embedder = "all-MiniLM-L6-v2"
    dataset = load_dataset(DATA_DIR)
    documents, queries = select_slice(dataset, SLICE_DOCS, SEED)
    tenant = slice_tenant(SLICE_DOCS, SEED, None)
    stack = make_stack(tmp_path_factory.mktemp("quality"), embedder)
    try:
        stack.up()
        # embed answers only its internal callers; searchapi presents the token (dense works)
        refused = httpx.post(stack.url("embed") + "/v1/embeddings", json={"input": "q"})
        assert refused.status_code == 401, refused.text
        report = index_documents(
            stack, documents_json(dataset, documents, tenant), timeout=300, progress=False
        )
        assert report.documents == SLICE_DOCS
        assert report.chunks >= SLICE_DOCS
        results = evaluate(stack, dataset, queries, tenant, progress=False)
    finally:
        stack.down()
    return embedder, results


@pytest.mark.stack
@pytest.mark.parametrize("mode", MODES)
def test_ndcg_above_floor(quality: tuple[str, dict[str, ModeResult]], mode: str) -> None:
    embedder, results = quality
    result = results[mode]
    assert result.queries >= MIN_QUERIES
    floor = FLOORS[mode]
    assert result.ndcg >= floor, (
        f"{mode} nDCG@10 {result.ndcg:.4f} < floor {floor} ({embedder} embedder, "
        f"{result.queries} queries, Recall@100 {result.recall:.4f})"
    )
    assert result.recall >= RECALL_FLOOR, f"{mode} Recall@100 {result.recall:.4f}"


# --- the harness's pure functions --------------------------------------------------------


def test_ndcg_and_recall_on_a_hand_computed_example() -> None:
    relevant = {"a", "b", "c"}
    ranking = ["a", "x", "b", "y"]
    # DCG@10 = 1/log2(2) + 1/log2(4) = 1.5; ideal = 1 + 1/log2(3) + 1/log2(4) = 2.1309
    assert ndcg_at(ranking, relevant) == pytest.approx(1.5 / (1.5 + 1 / math.log2(3)))
    assert ndcg_at(ranking, relevant) == pytest.approx(0.70392, abs=1e-5)
    # @2: DCG = 1, ideal = 1 + 1/log2(3) = 1.6309
    assert ndcg_at(ranking, relevant, k=2) == pytest.approx(0.61315, abs=1e-5)
    assert recall_at(ranking, relevant) == pytest.approx(2 / 3)
    assert recall_at(ranking, relevant, k=2) == pytest.approx(1 / 3)
    assert ndcg_at(["a", "b", "c"], relevant) == pytest.approx(1.0)
    assert ndcg_at(["x", "y"], relevant) == 0.0
    assert ndcg_at([], relevant) == 0.0
    assert recall_at([], relevant) == 0.0
    # Only the top 10 count for nDCG@10, only the top 100 for Recall@100.
    assert ndcg_at([f"n{i}" for i in range(10)] + ["a"], {"a"}) == 0.0
    assert recall_at([f"n{i}" for i in range(100)] + ["a"], {"a"}) == 0.0
    # One relevant document at rank 3: 1/log2(4) / 1.
    assert ndcg_at(["x", "y", "a"], {"a"}) == pytest.approx(0.5)


def test_mean_scores_over_queries() -> None:
    qrels = {"q1": {"a"}, "q2": {"b", "c"}}
    rankings = {"q1": ["a"], "q2": ["x", "b"]}
    metrics = score(rankings, qrels)
    assert metrics["ndcg@10"] == pytest.approx((1.0 + (1 / math.log2(3)) / 1.6309298) / 2)
    assert metrics["recall@100"] == pytest.approx((1.0 + 0.5) / 2)


def test_documents_ranked_by_their_best_chunk() -> None:
    hits = [{"document_id": d} for d in ["d1", "d2", "d1", "d3", "d2", "d4"]]
    assert documents_by_best_chunk(hits) == ["d1", "d2", "d3", "d4"]


def test_qrels_skip_the_header_and_unjudged_rows(tmp_path: Path) -> None:
    path = tmp_path / "qrels.tsv"
    path.write_text("query-id\tcorpus-id\tscore\n1\td1\t1\n1\td2\t1\n2\td3\t0\n3\td1\t2\n")
    assert load_qrels(path) == {"1": {"d1", "d2"}, "3": {"d1"}}


def test_a_slice_holds_the_relevant_documents_of_its_queries() -> None:
    corpus = {f"d{i}": (f"title {i}", f"text {i}") for i in range(50)}
    queries = {f"q{i}": f"query {i}" for i in range(10)}
    qrels = {f"q{i}": {f"d{2 * i}", f"d{2 * i + 1}"} for i in range(10)}
    qrels["q9"] = {"d48", "d49", "d0"}
    dataset = Dataset(corpus, queries, qrels)
    documents, evaluated = select_slice(dataset, 12, seed=3, judged_queries=3)
    assert len(documents) == 12
    assert {"d0", "d1", "d2", "d3", "d4", "d5"} <= set(documents)
    assert evaluated[:3] == ["q0", "q1", "q2"]
    assert all(qrels[q] <= set(documents) for q in evaluated)
    assert evaluated == judged(dataset, documents)
    assert select_slice(dataset, 12, seed=3, judged_queries=3) == (documents, evaluated)
    assert select_slice(dataset, 12, seed=4, judged_queries=3)[0] != documents
    whole, everything = select_slice(dataset, 100, seed=3)
    assert len(whole) == 50
    assert everything == list(queries)
