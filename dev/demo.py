"""The demo: ingest sample documents into the running local stack and show them flow.

    make demo       (starts the stack first; then `make down` to stop it)

Posts the sample documents to ingest, follows their status until every one is indexed, then
shows what Milvus holds and the top full-text hits of a few queries, read with pymilvus.
"""

from __future__ import annotations

import sys
import time

import httpx
from pymilvus import MilvusClient

from sluice.settings import load_settings

SAMPLES = [
    (
        "sluice-gates",
        "Sluice gates",
        "A sluice gate is a sliding barrier that controls the flow of water in a channel. "
        "Raising the gate lets water pass beneath it; lowering it holds the water back.\n\n"
        "Mills used sluices to feed their wheels, and canals use them to fill and empty locks.",
    ),
    (
        "canal-locks",
        "Canal locks",
        "A lock is a chamber with gates at both ends that raises and lowers boats between "
        "stretches of water at different levels. Paddles in the gates let water in or out, so "
        "the chamber fills or empties until its level matches the next reach.",
    ),
    (
        "water-mills",
        "Water mills",
        "A water mill turns the energy of flowing water into rotation. An overshot wheel takes "
        "water at the top and uses its weight; an undershot wheel is pushed by the current. "
        "Millers ground grain, sawed timber and fulled cloth with this power.",
    ),
    (
        "vector-search",
        "Vector search",
        "Vector search finds the items whose embeddings lie closest to the embedding of a query. "
        "An index such as HNSW builds a navigable graph so that the nearest neighbours are found "
        "without comparing the query with every stored vector.",
    ),
    (
        "bm25",
        "BM25",
        "BM25 ranks documents by the query terms they contain, rewarding rare terms and damping "
        "the effect of repeating a term. It remains a strong baseline for full-text retrieval.",
    ),
    (
        "hybrid-search",
        "Hybrid search",
        "Hybrid search runs a dense vector search and a full-text search and fuses the two "
        "rankings, for example with reciprocal rank fusion, which scores each result by the sum "
        "of the reciprocals of its ranks.",
    ),
    (
        "serverless",
        "Serverless functions",
        "Serverless functions scale with their load and down to zero when idle. A queue in front "
        "of them absorbs bursts, and at-least-once delivery means every step must be idempotent.",
    ),
    (
        "cloudevents",
        "CloudEvents",
        "CloudEvents is a specification for describing events in a common way. An event carries "
        "an id, a source, a type and optional data; over HTTP it travels in binary mode, with "
        "attributes in headers, or in structured mode, as one JSON document.",
    ),
]
QUERIES = ["water wheel grain", "nearest neighbours graph", "idempotent delivery"]


def main() -> int:
    """Run the demo against the stack's default ports (from conf/, like the stack)."""
    settings = load_settings()
    ingest = settings.ingest.public_url
    documents = [
        {"id": i, "title": t, "text": x, "metadata": {"source": "demo"}} for i, t, x in SAMPLES
    ]
    with httpx.Client(base_url=ingest, timeout=30) as client:
        response = client.post("/documents", json={"documents": documents})
        response.raise_for_status()
        print(
            f"POST {ingest}/documents: {len(documents)} documents "
            f"({', '.join(sorted({r['status'] for r in response.json()['documents']}))})"
        )
        records = _wait_indexed(client, [d["id"] for d in documents])
    for record in records:
        print(f"  {record['id']:<14} {record['status']:<8} {record['chunks']} chunk(s)")
    milvus = MilvusClient(uri=settings.milvus.uri)
    collection = settings.milvus.collection
    total = milvus.query(collection, filter="tenant == 'default'", output_fields=["count(*)"])
    print(
        f"Milvus collection {collection!r} holds {total[0]['count(*)']} chunks of tenant 'default'."
    )
    for query in QUERIES:
        hits = milvus.search(
            collection,
            data=[query],
            anns_field="sparse",
            limit=2,
            filter="tenant == 'default'",
            output_fields=["doc_id"],
            search_params={"metric_type": "BM25"},
        )[0]
        print(f"  full-text {query!r}: {', '.join(h['entity']['doc_id'] for h in hits)}")
    milvus.close()
    print("The stack keeps running; `make down` stops it.")
    return 0


def _wait_indexed(client: httpx.Client, ids: list[str], timeout: float = 60) -> list[dict]:
    deadline = time.monotonic() + timeout
    while True:
        records = [client.get(f"/documents/{doc_id}").json() for doc_id in ids]
        statuses = [r["status"] for r in records]
        print(f"  {statuses.count('indexed')}/{len(ids)} indexed", end="\r", flush=True)
        if all(s in ("indexed", "failed") for s in statuses):
            print()
            return records
        if time.monotonic() > deadline:
            raise SystemExit(f"not all indexed after {timeout:.0f} s: {statuses}")
        time.sleep(0.2)


if __name__ == "__main__":
    sys.exit(main())
