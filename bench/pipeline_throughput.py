"""Pipeline vs direct throughput: is the event-driven pipeline at least half as fast as a loop?

Starts a private local stack (Redis, milvus-lite, the three functions, the RQ workers) in a
temporary folder on free ports, and always stops it. Then:

1. pipeline: posts N synthetic documents to ingest in batches and waits until every one is
   `indexed` (polling the document records in Redis). Time runs from the first POST to the
   latest `indexed_at`. The Milvus row count must equal the sum of the records' `chunks`.
2. direct: the same documents, chunked, embedded (embedder.batch_size) and upserted (batches of
   ~1000 rows) into a separate collection by this one process, with no HTTP, queues or events.

It prints documents/s and chunks/s of both, the ratio pipeline/direct against the goal
"pipeline >= 50% of direct", and the CPU each stack process used during the pipeline run.

    uv run --frozen python bench/pipeline_throughput.py [--docs 500] [--batch 50] [--seed 7]
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time
from dataclasses import dataclass
from datetime import datetime
from pathlib import Path
from typing import Any

from redis import Redis
from rq import Worker

from sluice.chunker import chunk_text, search_text
from sluice.embedders import Embedder, create_embedder
from sluice.events import DEFAULT_TENANT, DocumentEmbedded, DocumentIn, EmbeddedChunk, now_iso
from sluice.settings import (
    EmbedderSettings,
    MilvusSettings,
    QueuesConfig,
    TransformConfig,
    load_settings,
)
from sluice.stores.milvus import ChunkRow, ChunkStore, chunk_rows

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (`python bench/...`): make `dev` importable
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    EMBEDDERS,
    cpu_seconds,
    document_text,
    machine_cpu_seconds,
    post_documents,
    running_stack,
    say,
    use_embedder,
    wait_indexed,
)
from dev.stack import Stack  # noqa: E402

GOAL = 0.5
UPSERT_BATCH = 1000
DIRECT_COLLECTION = "bench_direct"
MACHINE = "(machine)"

_WORD_LIST = """
the of and to in is that for it as was with be by on not he this are or his from at which but
have an they you were her she there been one all we their has would when if so no will can more
other some time people year way day man thing woman life child world school state family student
group country problem hand part place case week company system program question work government
number night point home water room mother area money story fact month lot right study book eye
job word business issue side kind head house service friend father power hour game line end
member law car city community name president team minute idea kid body information back parent
face others level office door health person art war history party result change morning reason
research girl guy moment air teacher force education river bridge market garden engine signal
measure ordinary careful quiet bright heavy simple early recent local public private common
small large long short open clear strong free full certain whole able human social political
make know take see come think look want give use find tell ask seem feel try leave call keep
provide hold turn follow begin bring write stand hear allow meet include continue learn lead
understand watch create speak read spend grow offer remember consider appear build serve expect
"""
WORDS = _WORD_LIST.split()
TOPICS = ("energy", "transport", "health", "finance", "education", "weather", "history")


@dataclass(frozen=True)
class Result:
    """Throughput of one way of doing the work."""

    name: str
    documents: int
    chunks: int
    seconds: float

    @property
    def docs_per_s(self) -> float:
        """Documents per second."""
        return self.documents / self.seconds

    @property
    def chunks_per_s(self) -> float:
        """Chunks per second."""
        return self.chunks / self.seconds


# --- synthetic documents -----------------------------------------------------------------


def sentence(rng: random.Random) -> str:
    """An English-like sentence of 6 to 22 words from the word list."""
    words = rng.choices(WORDS, k=rng.randint(6, 22))
    if rng.random() < 0.3:
        words.insert(rng.randint(2, len(words) - 1), rng.choice(WORDS) + ",")
    return " ".join(words).capitalize() + rng.choice(".......?!")


def make_documents(count: int, seed: int) -> list[dict[str, Any]]:
    """`count` deterministic documents as ingest takes them."""
    rng = random.Random(seed)
    return [
        {
            "id": f"bench-{seed}-{n:06d}",
            "title": " ".join(rng.choices(WORDS, k=rng.randint(3, 7))).title(),
            "text": document_text(rng, sentence),
            "metadata": {"source": "bench", "n": n, "topic": rng.choice(TOPICS)},
        }
        for n in range(count)
    ]


# --- the stack ---------------------------------------------------------------------------


# --- pipeline ----------------------------------------------------------------------------


def record_keys(ids: list[str], tenant: str = DEFAULT_TENANT) -> list[str]:
    """The Redis keys of the documents' records."""
    prefix = load_settings(QueuesConfig).redis.key_prefix
    return [f"{prefix}:doc:{tenant}:{doc_id}" for doc_id in ids]


def warm_up(stack: Stack, redis: Redis, workers: int, timeout: float = 60.0) -> None:
    """Wait until every RQ worker has registered (they import for seconds after `up()`), then
    push one document of another tenant through, so no start-up cost is timed."""
    deadline = time.monotonic() + timeout
    while Worker.count(connection=redis) < workers:
        if time.monotonic() > deadline:
            raise SystemExit(f"fewer than {workers} RQ workers registered after {timeout:.0f} s")
        time.sleep(0.2)
    document = {"id": "warm-up", "tenant": "warmup", "text": "Warm up. " * 300, "metadata": {}}
    post_documents(stack.url("ingest"), [document], 1)
    wait_indexed(redis, record_keys(["warm-up"], "warmup"), timeout)


def indexed_records(redis: Redis, keys: list[str]) -> tuple[int, float]:
    """The total of the records' `chunks` and the latest `indexed_at` (epoch seconds)."""
    with redis.pipeline(transaction=False) as pipe:
        for key in keys:
            pipe.hmget(key, "chunks", "indexed_at")
        rows = pipe.execute()
    chunks = sum(int(row[0]) for row in rows)
    latest = max(datetime.fromisoformat(row[1].decode()).timestamp() for row in rows)
    return chunks, latest


def milvus_count(store: ChunkStore, expected: int, timeout: float = 30.0) -> int:
    """The tenant's row count, re-read for a while until it matches (reads may lag writes)."""
    deadline = time.monotonic() + timeout
    while (count := store.count(DEFAULT_TENANT)) != expected and time.monotonic() < deadline:
        time.sleep(0.5)
    return count


def run_pipeline(
    stack: Stack, documents: list[dict[str, Any]], batch: int, timeout: float
) -> tuple[Result, dict[str, float]]:
    """Ingest everything through the stack; the result and each process's CPU seconds."""
    redis = Redis.from_url(stack.url("redis"))
    warm_up(stack, redis, stack.transform_workers + 1)
    keys = record_keys([d["id"] for d in documents])
    cpu_before = {**cpu_seconds(stack), MACHINE: sum(machine_cpu_seconds())}
    started = time.time()
    post_documents(stack.url("ingest"), documents, batch)
    wait_indexed(redis, keys, timeout)
    cpu_after = {**cpu_seconds(stack), MACHINE: sum(machine_cpu_seconds())}
    chunks, last_indexed = indexed_records(redis, keys)
    redis.close()
    store = ChunkStore(MilvusSettings(uri=stack.url("milvus")), bench_settings().identity())
    try:
        rows = milvus_count(store, chunks)
    finally:
        store.close()
    if rows != chunks:
        raise SystemExit(f"Milvus holds {rows} rows but the records count {chunks} chunks")
    cpu = {name: cpu_after.get(name, 0.0) - cpu_before.get(name, 0.0) for name in cpu_before}
    return Result("pipeline", len(documents), chunks, last_indexed - started), cpu


# --- direct ------------------------------------------------------------------------------


def bench_settings() -> EmbedderSettings:
    """The embedder settings of the run (the stack's, set through SLUICE_EMBEDDER__MODEL)."""
    return load_settings(TransformConfig).embedder


def direct_rows(
    document: dict[str, Any],
    embedder: Embedder,
    store: ChunkStore,
    size: int,
    overlap: int,
    batch: int,
) -> list[ChunkRow]:
    """Chunk and embed one document into the Milvus rows the index function would write."""
    version = DocumentIn.model_validate(document).content_version()
    chunks = chunk_text(document["text"], size, overlap)
    texts = [search_text(document["title"], c.text) for c in chunks]
    vectors = [v for s in range(0, len(texts), batch) for v in embedder.embed(texts[s : s + batch])]
    embedded = DocumentEmbedded(
        id=document["id"],
        tenant=DEFAULT_TENANT,
        version=version,
        title=document["title"],
        metadata=document["metadata"],
        accepted_at=now_iso(),
        embedder=embedder.identity,
        chunks=[
            EmbeddedChunk(chunk=c.number, start=c.start, end=c.end, text=c.text, vector=vector)
            for c, vector in zip(chunks, vectors, strict=True)
        ],
    )
    return chunk_rows(embedded, store.analyzer)


def run_direct(stack: Stack, documents: list[dict[str, Any]]) -> Result:
    """Do the same work in this process, straight into a separate collection."""
    settings = load_settings(TransformConfig)
    embedder = create_embedder(settings.embedder)
    milvus = MilvusSettings(uri=stack.url("milvus"), collection=DIRECT_COLLECTION)
    store = ChunkStore(milvus, embedder.identity)
    try:
        store.ensure_collection()
        started = time.perf_counter()
        pending: list[ChunkRow] = []
        total = 0
        for document in documents:
            pending += direct_rows(
                document,
                embedder,
                store,
                settings.chunker.size,
                settings.chunker.overlap,
                settings.embedder.batch_size,
            )
            if len(pending) >= UPSERT_BATCH:
                store.upsert(pending)
                total, pending = total + len(pending), []
        store.upsert(pending)
        total += len(pending)
        seconds = time.perf_counter() - started
        rows = milvus_count(store, total)
    finally:
        store.close()
    if rows != total:
        raise SystemExit(f"Milvus holds {rows} direct rows but {total} were upserted")
    return Result("direct", len(documents), total, seconds)


# --- report ------------------------------------------------------------------------------


def print_embedder_share(pipeline: Result, documents: list[dict[str, Any]]) -> None:
    """The embedder alone on the same chunks, in batches, in this process: what the pipeline's
    embedding throughput is compared with (goal: the pipeline within 85 % of it)."""
    settings = load_settings(TransformConfig)
    embedder = create_embedder(settings.embedder)
    texts = [
        search_text(d["title"], c.text)
        for d in documents
        for c in chunk_text(d["text"], settings.chunker.size, settings.chunker.overlap)
    ]
    batch = settings.embedder.batch_size
    embedder.embed(texts[:batch])  # warm up
    started = time.perf_counter()
    for start in range(0, len(texts), batch):
        embedder.embed(texts[start : start + batch])
    alone = len(texts) / (time.perf_counter() - started)
    share = pipeline.chunks_per_s / alone
    print(
        f"\nembedder alone (batches of {batch}, this process): {alone:.1f} chunks/s; "
        f"pipeline {pipeline.chunks_per_s:.1f} chunks/s = {share:.0%} of it "
        f"-> goal >= 85%: {'MET' if share >= 0.85 else 'NOT MET'}"
    )


def print_report(pipeline: Result, direct: Result, cpu: dict[str, float]) -> None:
    """The throughput table, the ratio and verdict, and the pipeline's CPU by process."""
    print(f"\n{'':<10}{'docs':>7}{'chunks':>8}{'seconds':>9}{'docs/s':>9}{'chunks/s':>10}")
    for r in (pipeline, direct):
        print(
            f"{r.name:<10}{r.documents:>7}{r.chunks:>8}{r.seconds:>9.2f}"
            f"{r.docs_per_s:>9.1f}{r.chunks_per_s:>10.1f}"
        )
    ratio = pipeline.docs_per_s / direct.docs_per_s
    verdict = "MET" if ratio >= GOAL else "NOT MET"
    print(
        f"\nratio pipeline/direct: {ratio:.0%}  -> goal pipeline >= {GOAL:.0%} of direct: {verdict}"
    )
    print(f"\nCPU during the pipeline run ({pipeline.seconds:.1f} s wall, {os.cpu_count()} CPUs):")
    stack = {name: seconds for name, seconds in cpu.items() if name != MACHINE}
    total = sum(stack.values())
    rows = [
        *sorted(stack.items(), key=lambda item: -item[1]),
        ("stack total", total),
        ("other processes", cpu[MACHINE] - total),
        ("whole machine", cpu[MACHINE]),
    ]
    for name, seconds in rows:
        print(f"  {name:<20}{seconds:>8.1f} s  {seconds / pipeline.seconds:>5.0%} of a CPU")
    print("  (other processes: this script's posting and polling, and anything else running)")


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=500, help="documents (default 500)")
    parser.add_argument("--batch", type=int, default=50, help="documents per POST (default 50)")
    parser.add_argument("--seed", type=int, default=7, help="seed of the synthetic documents")
    parser.add_argument(
        "--embedder",
        choices=EMBEDDERS,
        default="hashing",
        help="hashing (default): measures the pipeline's own overhead: a model: the real model",
    )
    parser.add_argument(
        "--transform-workers",
        type=int,
        default=0,
        help="RQ workers on the transform queue (default: 1 with the model, 2 with hashing)",
    )
    parser.add_argument(
        "--timeout",
        type=float,
        default=900,
        help="seconds to wait for the pipeline to index everything",
    )
    parser.add_argument(
        "--keep-dir",
        action="store_true",
        help="keep the stack's temporary folder (logs) after the run",
    )
    args = parser.parse_args()
    if args.docs < 1 or args.batch < 1 or args.transform_workers < 0:
        parser.error("--docs and --batch must be at least 1, --transform-workers at least 0")
    return args


def main() -> None:
    """Run both measurements on one private stack and print the comparison."""
    args = parse_args()
    use_embedder(args.embedder)
    documents = make_documents(args.docs, args.seed)
    size = sum(len(d["text"]) for d in documents) / len(documents)
    say(f"{len(documents)} documents, {size:.0f} characters on average; starting the stack")
    with running_stack(args.keep_dir, args.embedder, args.transform_workers) as stack:
        say(f"pipeline: posting in batches of {args.batch}, waiting until all are indexed")
        pipeline, cpu = run_pipeline(stack, documents, args.batch, args.timeout)
        say(f"direct: chunk, embed and upsert into {DIRECT_COLLECTION!r} in this process")
        direct = run_direct(stack, documents)
        if direct.chunks != pipeline.chunks:
            raise SystemExit(f"the pipeline made {pipeline.chunks} chunks, direct {direct.chunks}")
        print_report(pipeline, direct, cpu)
        if args.embedder != "hashing":
            print_embedder_share(pipeline, documents)


if __name__ == "__main__":
    main()
