"""Documents travel ingest → queue → transform → queue → index → Milvus on the real stack."""

from __future__ import annotations

import random
from concurrent.futures import ThreadPoolExecutor

import httpx
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from redis import Redis

from sluice.chunker import chunk_text
from sluice.settings import TransformConfig, load_settings
from sluice.stores.milvus import ChunkStore
from tests.conftest import document_rows, wait_status

WORDS = (
    "retrieval vector index sluice pipeline document chunk river water gate stream "
    "search query tenant queue worker broker event function model dense sparse"
).split()


def make_text(rng: random.Random, sentences: int) -> str:
    """English-like text: sentences of random words, paragraphs every few sentences."""
    parts = []
    for n in range(sentences):
        words = [rng.choice(WORDS) for _ in range(rng.randint(6, 18))]
        parts.append(" ".join(words).capitalize() + ".")
        if n % 5 == 4:
            parts.append("\n\n")
    return " ".join(parts)


def expected_chunks(text: str) -> list[str]:
    """What the chunker makes of a text with the configured sizes."""
    settings = load_settings(TransformConfig)
    return [c.text for c in chunk_text(text, settings.chunker.size, settings.chunker.overlap)]


def milvus_texts(chunk_store: ChunkStore, tenant: str, doc_id: str) -> list[str]:
    """The chunk texts of a document in Milvus, in chunk order."""
    rows = document_rows(chunk_store, tenant, doc_id, ["chunk", "text"])
    return [r["text"] for r in sorted(rows, key=lambda r: r["chunk"])]


def test_a_batch_of_50_documents_is_indexed_with_exactly_the_chunker_s_chunks(
    ingest: httpx.Client, chunk_store: ChunkStore, tenant: str
) -> None:
    rng = random.Random(50)
    documents = [
        {
            "id": f"doc-{n}",
            "title": f"Document {n}",
            "metadata": {"n": n},
            "text": make_text(rng, rng.randint(1, 40)),
            "tenant": tenant,
        }
        for n in range(50)
    ]
    response = ingest.post("/documents", json={"documents": documents})
    assert response.status_code == 202, response.text
    results = response.json()["documents"]
    assert [r["status"] for r in results] == ["accepted"] * 50
    assert all(r["status_url"].endswith(f"/documents/{r['id']}?tenant={tenant}") for r in results)

    total = 0
    for document in documents:
        record = wait_status(ingest, document["id"], tenant, "indexed")
        expected = expected_chunks(document["text"])
        assert record["chunks"] == len(expected)
        assert milvus_texts(chunk_store, tenant, document["id"]) == expected
        total += len(expected)
    assert total > 50, "some documents should have several chunks"
    assert chunk_store.count(tenant) == total


def test_cloudevents_in_binary_and_structured_mode_are_indexed(
    ingest: httpx.Client, chunk_store: ChunkStore, tenant: str
) -> None:
    for mode, convert in (("binary", to_binary), ("structured", to_structured)):
        text = f"A document sent as a {mode}-mode CloudEvent. " * 40
        event = CloudEvent(
            {"type": "dev.sluice.document.submitted", "source": "/tests"},
            {"id": f"ce-{mode}", "text": text, "tenant": tenant},
        )
        headers, body = convert(event)
        response = ingest.post("/", headers=headers, content=body)
        assert response.status_code == 202, response.text
        assert response.json()["status"] == "accepted"
        record = wait_status(ingest, f"ce-{mode}", tenant, "indexed")
        assert record["chunks"] == len(expected_chunks(text))
        assert milvus_texts(chunk_store, tenant, f"ce-{mode}") == expected_chunks(text)


def test_unchanged_changed_and_deleted_documents(
    ingest: httpx.Client, chunk_store: ChunkStore, tenant: str
) -> None:
    original = {"id": "life", "text": "The first version. " * 120, "tenant": tenant}
    first = ingest.post("/documents", json=original).json()
    wait_status(ingest, "life", tenant, "indexed")
    first_rows = chunk_store.count(tenant, "life")
    assert first_rows == len(expected_chunks(original["text"]))

    again = ingest.post("/documents", json=original)
    assert again.status_code == 202
    assert again.json()["status"] == "unchanged"
    assert again.json()["version"] == first["version"]
    assert chunk_store.count(tenant, "life") == first_rows

    changed = {**original, "text": "The second version is shorter. " * 10}
    second = ingest.post("/documents", json=changed).json()
    assert second["status"] == "accepted" and second["version"] != first["version"]
    wait_status(ingest, "life", tenant, "indexed")
    rows = document_rows(chunk_store, tenant, "life", ["version"])
    assert {r["version"] for r in rows} == {second["version"]}
    assert len(rows) == len(expected_chunks(changed["text"]))

    deleted = ingest.delete("/documents/life", params={"tenant": tenant})
    assert deleted.status_code == 202
    assert deleted.json()["status"] == "deleted"
    assert wait_status(ingest, "life", tenant, "deleted")["status"] == "deleted"
    wait_for_zero(chunk_store, tenant, "life")


def wait_for_zero(chunk_store: ChunkStore, tenant: str, doc_id: str) -> None:
    """Wait until Milvus holds no chunk of the document."""
    from tests.conftest import wait_for

    wait_for(lambda: chunk_store.count(tenant, doc_id) == 0, 30, f"{doc_id}'s chunks to go")


def test_the_same_document_submitted_concurrently_leaves_one_set_of_chunks(
    ingest: httpx.Client, chunk_store: ChunkStore, tenant: str
) -> None:
    document = {"id": "twin", "text": "Submitted many times at once. " * 100, "tenant": tenant}

    def submit(_: int) -> str:
        response = ingest.post("/documents", json=document)
        assert response.status_code == 202
        return str(response.json()["status"])

    with ThreadPoolExecutor(8) as pool:
        statuses = list(pool.map(submit, range(16)))
    assert statuses.count("accepted") == 1
    assert statuses.count("unchanged") == 15
    wait_status(ingest, "twin", tenant, "indexed")
    for _ in range(3):  # and sequentially, after it is indexed
        assert ingest.post("/documents", json=document).json()["status"] == "unchanged"
    rows = document_rows(chunk_store, tenant, "twin", ["chunk_id"])
    assert len(rows) == len(expected_chunks(document["text"]))
    assert len({r["chunk_id"] for r in rows}) == len(rows)


def test_a_large_document_travels_by_claim_check(
    ingest: httpx.Client, chunk_store: ChunkStore, redis_client: Redis, tenant: str
) -> None:
    rng = random.Random(900)
    text = make_text(rng, 9000)[:900_000]  # over the 256 KiB event threshold at every hop
    blobs_before = set(redis_client.scan_iter("sluice:blob:*"))
    response = ingest.post("/documents", json={"id": "tome", "text": text, "tenant": tenant})
    assert response.status_code == 202
    record = wait_status(ingest, "tome", tenant, "indexed", timeout=120)
    assert record["chunks"] == len(expected_chunks(text)) > 500
    assert chunk_store.count(tenant, "tome") == record["chunks"]
    new_blobs = set(redis_client.scan_iter("sluice:blob:*")) - blobs_before
    assert len(new_blobs) == 2, "the accepted and the embedded payloads go by claim check"
