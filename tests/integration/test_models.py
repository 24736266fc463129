"""Changing the embedding model without downtime, on a stack of its own (it changes the model).

500 documents indexed with the hashing embedder move to all-MiniLM-L6-v2 while one client
searches without pause and another adds, changes and deletes documents; the models function is
killed with SIGKILL half way and started again. Every search must succeed and be answered by
one model end to end (its dense scores are recomputed here with that model); at the end both
collections hold the same chunks, those of exactly the documents current in Redis. Then the
rollback, the quality gate and drop-old.
"""

from __future__ import annotations

import math
import random
import threading
import time
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest
from pymilvus import MilvusClient

from dev.stack import DEFAULT_MODEL, MODELS_DIR, Stack
from sluice.chunker import search_text
from sluice.embedders.catalogue import MODELS
from sluice.embedders.hashing import HashingEmbedder
from sluice.embedders.onnx import OnnxEmbedder
from tests.conftest import TEST_ENV, wait_for

pytestmark = pytest.mark.stack

TENANT = "models"
DOCUMENTS = 500
HASHING_COLLECTION = "sluice_chunks__v4_hashing_384"
MINILM_COLLECTION = "sluice_chunks__v4_all_minilm_l6_v2_384"
WORDS = (
    "river gate water lock canal boat mill wheel grain flood valve dam pump channel basin "
    "harbour tide sluice weir bridge meadow stone timber rope engine pressure level"
).split()
QUERIES = ["water gate", "canal lock boats", "mill wheel grain", "flood basin pump", "tide weir"]
FIELDS = ["chunk_id", "doc_id", "version", "chunk", "title", "text", "search_text", "metadata",
          "page", "page_end", "section", "created_at"]  # fmt: skip


def document(number: int, variant: int = 0) -> dict[str, Any]:
    """A short synthetic document (one chunk), different per variant."""
    rng = random.Random(number * 1000 + variant)
    text = " ".join(rng.choice(WORDS) for _ in range(rng.randint(20, 60)))
    return {"id": f"doc-{number}", "title": f"Document {number}.{variant}", "text": text,
            "tenant": TENANT, "metadata": {"n": number, "variant": variant}}  # fmt: skip


@pytest.fixture(scope="module")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    directory: Path = tmp_path_factory.mktemp("models-stack")
    running = Stack(directory, extra_env=TEST_ENV, embedder="hashing").on_free_ports()
    try:
        running.up()
        yield running
    finally:
        running.down()


@pytest.fixture(scope="module")
def admin(stack: Stack) -> Iterator[httpx.Client]:
    with httpx.Client(
        base_url=stack.url("models") + "/v1/models", headers=stack.admin_headers(), timeout=60
    ) as client:
        yield client


@pytest.fixture(scope="module")
def milvus(stack: Stack) -> MilvusClient:
    return MilvusClient(uri=stack.url("milvus"))


@pytest.fixture(scope="module")
def minilm() -> OnnxEmbedder:
    return OnnxEmbedder(MODELS[DEFAULT_MODEL], MODELS_DIR / DEFAULT_MODEL, threads=1)


def ingest(stack: Stack, docs: list[dict[str, Any]]) -> None:
    response = httpx.post(stack.url("ingest") + "/documents", json={"documents": docs}, timeout=60)
    assert response.status_code == 202, response.text


def records(stack: Stack) -> dict[str, dict[str, Any]]:
    """Every document of the tenant as ingest lists it (id -> record)."""
    found: dict[str, dict[str, Any]] = {}
    cursor = None
    while True:
        params = {"tenant": TENANT, "limit": 100, **({"cursor": cursor} if cursor else {})}
        page = httpx.get(stack.url("ingest") + "/documents", params=params, timeout=60).json()
        found.update({d["id"]: d for d in page["documents"]})
        cursor = page.get("next_cursor")
        if not cursor:
            return found


def settled(stack: Stack) -> bool:
    return all(r["status"] in ("indexed", "deleted") for r in records(stack).values())


def rows(milvus: MilvusClient, collection: str) -> dict[str, dict[str, Any]]:
    result = milvus.query(
        collection, filter=f"tenant == '{TENANT}'", output_fields=FIELDS, limit=16_384
    )
    return {r["chunk_id"]: {k: r[k] for k in FIELDS} for r in result}


def cosine(a: list[float], b: list[float]) -> float:
    dot = sum(x * y for x, y in zip(a, b, strict=True))
    return dot / (math.sqrt(sum(x * x for x in a)) * math.sqrt(sum(y * y for y in b)) or 1.0)


class Searcher(threading.Thread):
    """Searches without pause (dense, text, hybrid in turn) and keeps every answer."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.url = stack.url("searchapi") + "/v1/search"
        self.answers: list[tuple[str, str, int, dict[str, Any]]] = []
        self.stop = threading.Event()

    def run(self) -> None:
        modes = ("dense", "text", "hybrid")
        with httpx.Client(timeout=30) as client:
            while not self.stop.is_set():
                for i, query in enumerate(QUERIES):
                    mode = modes[(len(self.answers) + i) % 3]
                    params = {"q": query, "tenant": TENANT, "mode": mode, "k": 5}
                    try:
                        response = client.get(self.url, params=params)
                        body = response.json()
                        status = response.status_code
                    except httpx.HTTPError as exc:
                        status, body = 0, {"error": repr(exc)}
                    self.answers.append((query, mode, status, body))


class Mutator(threading.Thread):
    """Adds, changes and deletes documents until stopped."""

    def __init__(self, stack: Stack) -> None:
        super().__init__(daemon=True)
        self.stack = stack
        self.stop = threading.Event()
        self.added = self.changed = self.deleted = 0

    def run(self) -> None:
        rng = random.Random(5)
        step = 0
        while not self.stop.is_set():
            step += 1
            ingest(self.stack, [document(DOCUMENTS + step)])  # new
            self.added += 1
            ingest(self.stack, [document(rng.randrange(DOCUMENTS), variant=step)])  # changed
            self.changed += 1
            victim = rng.randrange(DOCUMENTS)
            httpx.delete(
                self.stack.url("ingest") + f"/documents/doc-{victim}",
                params={"tenant": TENANT},
                timeout=60,
            )
            self.deleted += 1
            time.sleep(0.3)


def test_a_migration_under_load_killed_half_way_loses_and_mixes_nothing(
    stack: Stack, admin: httpx.Client, milvus: MilvusClient, minilm: OnnxEmbedder
) -> None:
    for start in range(0, DOCUMENTS, 100):
        ingest(stack, [document(n) for n in range(start, start + 100)])
    wait_for(lambda: settled(stack), 300, "the first 500 documents indexed")
    assert len(rows(milvus, HASHING_COLLECTION)) == DOCUMENTS

    searcher, mutator = Searcher(stack), Mutator(stack)
    searcher.start()
    time.sleep(2)
    before = len(searcher.answers)
    mutator.start()
    started = admin.post("/migrate", json={"to": DEFAULT_MODEL})
    assert started.status_code == 202, started.text
    assert started.json()["phase"] == "building"

    # kill -9 half way through the copy, then start the function again
    wait_for(lambda: admin.get("").json()["progress"]["done"] >= DOCUMENTS // 3, 300, "a third")
    stack.kill("models")
    done_at_kill = admin_progress_after_restart(stack, admin)
    assert 0 < done_at_kill < DOCUMENTS + 500, done_at_kill

    wait_for(lambda: admin.get("").json()["phase"] == "previous", 600, "the switch")
    time.sleep(3)  # searches after the switch
    mutator.stop.set()
    mutator.join()
    wait_for(lambda: settled(stack), 300, "every change indexed")
    wait_for(lambda: admin.get("").json()["progress"]["pending"] == 0, 120, "the copy caught up")
    searcher.stop.set()
    searcher.join()

    # every search succeeded, each with one model, hashing until the switch and MiniLM after
    failed = [a for a in searcher.answers if a[2] != 200]
    assert not failed, failed[:3]
    models = [a[3]["embedder"]["name"] for a in searcher.answers]
    assert set(models) == {"hashing", DEFAULT_MODEL}, set(models)
    switch = models.index(DEFAULT_MODEL)
    assert switch > before and "hashing" not in models[switch:]
    hashing = HashingEmbedder(384)
    checked = 0
    for query, mode, _, body in searcher.answers[:: max(1, len(searcher.answers) // 200)]:
        if mode != "dense" or not body["hits"]:
            continue
        top = body["hits"][0]
        passage = search_text(top["title"], top["text"], top["section"])
        if body["embedder"]["name"] == "hashing":
            (q, p) = hashing.embed([query, passage])
        else:
            (q,), (p,) = minilm.embed([query], "query"), minilm.embed([passage])
        assert abs(cosine(q, p) - top["score"]) < 2e-3, (body["embedder"], query, top)
        checked += 1
    assert checked >= 10

    # both collections hold exactly the current versions of the documents, chunk for chunk
    current = {d: r for d, r in records(stack).items() if r["status"] == "indexed"}
    assert mutator.added and mutator.deleted and mutator.changed
    old, new = rows(milvus, HASHING_COLLECTION), rows(milvus, MINILM_COLLECTION)
    assert new == old
    assert {(r["doc_id"], r["version"]) for r in new.values()} == {
        (d, r["version"]) for d, r in current.items()
    }
    state = admin.get("").json()
    assert state["active"]["collection"] == MINILM_COLLECTION
    assert state["other"]["collection"] == HASHING_COLLECTION
    assert milvus.describe_alias("sluice_chunks")["collection_name"] == MINILM_COLLECTION


def admin_progress_after_restart(stack: Stack, admin: httpx.Client) -> int:
    """Start the killed models function again; the copy's progress it finds in Redis."""
    stack.start("models")
    stack.wait_ready("models")
    return int(admin.get("").json()["progress"]["done"])


def test_rollback_switches_back_at_once_and_drop_old_frees_the_collection(
    stack: Stack, admin: httpx.Client, milvus: MilvusClient
) -> None:
    def searched_with() -> str:
        body = httpx.get(
            stack.url("searchapi") + "/v1/search",
            params={"q": "water gate", "tenant": TENANT, "mode": "dense"},
            timeout=30,
        ).json()
        return str(body["embedder"]["name"])

    assert searched_with() == DEFAULT_MODEL
    rolled = admin.post("/rollback")
    assert rolled.status_code == 200, rolled.text
    assert milvus.describe_alias("sluice_chunks")["collection_name"] == HASHING_COLLECTION
    wait_for(lambda: searched_with() == "hashing", 5, "searches on the previous model")
    # new documents go on reaching both (the newer one is kept for a second thought)
    ingest(stack, [document(9000)])
    wait_for(lambda: settled(stack), 120, "a document after the rollback")
    wait_for(lambda: admin.get("").json()["progress"]["pending"] == 0, 120, "the copy")
    assert rows(milvus, HASHING_COLLECTION) == rows(milvus, MINILM_COLLECTION)

    conflict = admin.post("/migrate", json={"to": DEFAULT_MODEL})
    assert conflict.status_code == 409 and "drop-old" in conflict.json()["error"]["message"]

    dropped = admin.post("/drop-old")
    assert dropped.status_code == 200, dropped.text
    assert dropped.json()["other"] is None
    assert MINILM_COLLECTION not in milvus.list_collections()
    assert searched_with() == "hashing"
    assert admin.post("/rollback").status_code == 409


def test_the_quality_gate_refuses_a_switch_below_its_threshold(
    stack: Stack, admin: httpx.Client, milvus: MilvusClient
) -> None:
    gate = {
        "queries": [{"query": q, "relevant": ["doc-1"], "tenant": TENANT} for q in QUERIES],
        "min_ndcg": 1.0,
    }
    started = admin.post("/migrate", json={"to": DEFAULT_MODEL, "gate": gate})
    assert started.status_code == 202, started.text
    state = wait_for(
        lambda: (s := admin.get("").json())["message"] and s, 300, "the gate's verdict"
    )
    assert isinstance(state, dict)
    assert state["phase"] == "ready" and "quality gate refused" in state["message"]
    assert state["gate"]["passed"] is False and state["gate"]["new"] < 1.0
    assert milvus.describe_alias("sluice_chunks")["collection_name"] == HASHING_COLLECTION
    cancelled = admin.post("/drop-old")
    assert cancelled.status_code == 200 and cancelled.json()["phase"] is None
    assert MINILM_COLLECTION not in milvus.list_collections()


@pytest.mark.parametrize(
    ("headers", "status"),
    [({}, 401), ({"Authorization": "Bearer wrong"}, 401)],
)
def test_the_admin_api_needs_its_key(stack: Stack, headers: dict[str, str], status: int) -> None:
    response = httpx.get(stack.url("models") + "/v1/models", headers=headers, timeout=10)
    assert response.status_code == status
    assert response.json()["error"]["code"] == "unauthorized"


def test_an_unknown_model_is_refused_by_name(admin: httpx.Client) -> None:
    response = admin.post("/migrate", json={"to": "gpt-embeddings"})
    assert response.status_code in (400, 422)
    assert "gpt-embeddings" in response.json()["error"]["message"]
