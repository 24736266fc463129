"""Ingest flooded: 16 clients post 10,000 documents as fast as they can.

Starts a private local stack (temporary folder, free ports, an API key, the hashing embedder by
default) and always stops it. Then:

1. flood: `--clients` threads, each with its own keep-alive connection, take batches of
   `--batch` documents off one queue and POST them to ingest with the API key, with no pause
   but what ingest asks for: a 429 is retried after its `Retry-After`. Every answer is counted
   by status. Anything but 202 or 429, a 429 without a usable `Retry-After`, or a socket error
   is a failure (the batch is then resubmitted after a second, as a client would, at most
   `--attempts` times).
2. drain: waits until every document acknowledged with 202 is `indexed` (its record in Redis,
   read in pipelined polls), then compares Milvus's row count of the tenant with the records'
   chunks and with the chunker's count of the documents.

Meanwhile it samples every stack process's RSS (from /proc, forked children included) and the
depth of each delivery queue (ingest answers 429 while transform's holds more than
`ingest.queue_bound` jobs; a job carries one POST's documents). It prints the status counts,
the POST latencies, the submission and indexing rates, the queues' peaks, the chunk counts and
each process's start, peak and end RSS; it exits non-zero if there was a failure, a document
not indexed or a chunk count that differs.

    uv run --frozen python bench/ingest_flood.py [--docs 10000] [--clients 16] [--batch 5]
    uv run --frozen python bench/ingest_flood.py --quick          # 300 documents, bound 10, 1 s
"""

from __future__ import annotations

import argparse
import json
import os
import queue
import secrets
import sys
import threading
import time
from collections import Counter
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from redis import Redis
from rq import Queue

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (`python bench/...`): make `dev` importable
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    EMBEDDERS,
    RssSampler,
    load_average,
    percentile,
    running_stack,
    say,
    use_embedder,
)
from bench.pipeline_throughput import make_documents  # noqa: E402
from dev.stack import Stack, subscriber_queues  # noqa: E402
from sluice.chunker import chunk_text  # noqa: E402
from sluice.lifecycle import Status  # noqa: E402
from sluice.settings import (  # noqa: E402
    IngestConfig,
    MilvusSettings,
    QueuesConfig,
    TransformConfig,
    load_settings,
)
from sluice.stores.documents import DocumentStore  # noqa: E402
from sluice.stores.milvus import ChunkStore  # noqa: E402

TENANT = "flood"
FAILURE_EXAMPLES = 5


@dataclass
class Tally:
    """What the clients saw, shared by them (under the lock)."""

    lock: threading.Lock = field(default_factory=threading.Lock)
    statuses: Counter[str] = field(default_factory=Counter)
    retry_after: Counter[str] = field(default_factory=Counter)
    failures: Counter[str] = field(default_factory=Counter)
    examples: list[str] = field(default_factory=list)
    acknowledged: set[str] = field(default_factory=set)
    unchanged: int = 0
    lost_batches: int = 0
    latency_202: list[float] = field(default_factory=list)
    latency_429: list[float] = field(default_factory=list)
    last_202: float = 0.0

    def fail(self, kind: str, example: str) -> None:
        """Count a failure, keeping the first few examples."""
        with self.lock:
            self.failures[kind] += 1
            if len(self.examples) < FAILURE_EXAMPLES:
                self.examples.append(example)


def retry_after(value: str | None) -> float | None:
    """A `Retry-After` in seconds (ingest sends delta-seconds), or None if absent or unusable."""
    try:
        seconds = float(value) if value is not None else None
    except ValueError:
        return None
    return seconds if seconds is not None and 0 <= seconds <= 3600 else None


def client_loop(
    url: str, key: str, batches: queue.Queue[list[dict[str, Any]]], tally: Tally, attempts: int
) -> None:
    """One client: POST batches until the queue is empty; each until it is acknowledged."""
    headers = {"Authorization": f"Bearer {key}"}
    with httpx.Client(base_url=url, headers=headers, timeout=120) as client:
        while True:
            try:
                batch = batches.get_nowait()
            except queue.Empty:
                return
            post_until_acknowledged(client, batch, tally, attempts)


def post_until_acknowledged(
    client: httpx.Client, batch: list[dict[str, Any]], tally: Tally, attempts: int
) -> None:
    """POST one batch, obeying 429s; failures are counted and the batch resubmitted (at most
    `attempts` failures, then it is given up and counted lost)."""
    failed = 0
    body = {"documents": batch}
    while failed < attempts:
        started = time.perf_counter()
        try:
            response = client.post("/documents", json=body)
        except httpx.HTTPError as error:
            tally.fail(f"socket: {type(error).__name__}", f"{type(error).__name__}: {error}")
            failed += 1
            time.sleep(1)
            continue
        took = time.perf_counter() - started
        status = response.status_code
        with tally.lock:
            tally.statuses[str(status)] += 1
        if status == 202:
            results = response.json()["documents"]
            with tally.lock:
                tally.latency_202.append(took)
                tally.acknowledged |= {r["id"] for r in results}
                tally.unchanged += sum(r["status"] == Status.UNCHANGED for r in results)
                tally.last_202 = time.monotonic()
            return
        if status == 429:
            header = response.headers.get("Retry-After")
            wait = retry_after(header)
            with tally.lock:
                tally.latency_429.append(took)
                tally.retry_after[str(header)] += 1
            if wait is None:
                tally.fail("429 without a usable Retry-After", f"429, Retry-After {header!r}")
                failed += 1
                wait = 1.0
            time.sleep(wait)
            continue
        tally.fail(str(status), f"{status}: {response.text[:300]}")
        failed += 1
        time.sleep(1)
    with tally.lock:
        tally.lost_batches += 1


def delivery_queues(redis: Redis) -> dict[str, Queue]:
    """The RQ queue of each subscriber (ingest's 429 watches the transform one)."""
    return {name: Queue(queue, connection=redis) for name, queue in subscriber_queues().items()}


def flood(
    stack: Stack, key: str, documents: list[dict[str, Any]], args: argparse.Namespace
) -> tuple[Tally, float, float]:
    """Run the clients until every batch is acknowledged or given up; the tally, when the
    first POST was sent (epoch) and the seconds from it to the last 202."""
    batches: queue.Queue[list[dict[str, Any]]] = queue.Queue()
    for start in range(0, len(documents), args.batch):
        batches.put(documents[start : start + args.batch])
    tally = Tally()
    threads = [
        threading.Thread(
            target=client_loop,
            args=(stack.url("ingest"), key, batches, tally, args.attempts),
            name=f"client-{n}",
            daemon=True,
        )
        for n in range(args.clients)
    ]
    first_post = time.time()
    started = time.monotonic()
    shown = started
    for thread in threads:
        thread.start()
    while any(thread.is_alive() for thread in threads):
        if time.monotonic() - shown >= 5:
            with tally.lock:
                done, codes = len(tally.acknowledged), dict(tally.statuses)
            say(f"  {done} acknowledged; answers so far {codes}")
            shown = time.monotonic()
        time.sleep(0.25)
    return tally, first_post, tally.last_202 - started


class DepthSampler:
    """Samples the depth (waiting jobs) of every delivery queue in a thread; the peaks."""

    def __init__(self, stack: Stack, interval: float = 0.25) -> None:
        self.redis = Redis.from_url(stack.url("redis"))
        self.queues = delivery_queues(self.redis)
        self.peak = dict.fromkeys(self.queues, 0)
        self.interval = interval
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="depth-sampler", daemon=True)

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            for name, jobs in self.queues.items():
                self.peak[name] = max(self.peak[name], jobs.count)

    def __enter__(self) -> DepthSampler:
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.redis.close()


def drain(
    stack: Stack, acknowledged: set[str], timeout: float
) -> tuple[Counter[str], int, float, float]:
    """Wait until every acknowledged document is indexed (or failed, or the timeout); the
    final statuses, the records' chunks, the seconds waited and the latest `indexed_at`."""
    redis = Redis.from_url(stack.url("redis"))
    store = DocumentStore(redis, load_settings(QueuesConfig).redis.key_prefix)
    refs = [(TENANT, doc_id) for doc_id in sorted(acknowledged)]
    started = time.monotonic()
    shown = started
    try:
        while True:
            records = store.get_many(refs)
            statuses = Counter(r.status.value if r else "missing" for r in records)
            final = statuses[Status.INDEXED] + statuses[Status.FAILED]
            if final == len(refs) or time.monotonic() - started > timeout:
                break
            if time.monotonic() - shown >= 5:
                say(f"  indexed {statuses[Status.INDEXED]} of {len(refs)}; {dict(statuses)}")
                shown = time.monotonic()
            time.sleep(1)
    finally:
        redis.close()
    chunks = sum(r.chunks for r in records if r is not None and r.status == Status.INDEXED)
    indexed_at = [
        r.indexed_at for r in records if r is not None and r.indexed_at and r.status == "indexed"
    ]
    latest = max((_epoch(t) for t in indexed_at), default=float("nan"))
    return statuses, chunks, time.monotonic() - started, latest


def _epoch(iso: str) -> float:
    return datetime.fromisoformat(iso).timestamp()


def milvus_rows(stack: Stack, expected: int, timeout: float = 30.0) -> int:
    """The tenant's row count in Milvus, re-read for a while until it is `expected`."""
    store = ChunkStore(
        MilvusSettings(uri=stack.url("milvus")), load_settings(TransformConfig).embedder.identity()
    )
    try:
        deadline = time.monotonic() + timeout
        while (count := store.count(TENANT)) != expected and time.monotonic() < deadline:
            time.sleep(0.5)
        return count
    finally:
        store.close()


def chunker_count(documents: list[dict[str, Any]]) -> int:
    """How many chunks the transform function cuts the documents into."""
    chunker = load_settings(TransformConfig).chunker
    return sum(len(chunk_text(d["text"], chunker.size, chunker.overlap)) for d in documents)


def ms(values: list[float], q: float) -> str:
    """A quantile of durations in seconds, as milliseconds."""
    return f"{percentile(values, q) * 1000:.0f}" if values else "-"


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--docs", type=int, default=10_000, help="documents (10000)")
    parser.add_argument("--clients", type=int, default=16, help="concurrent clients (16)")
    parser.add_argument("--batch", type=int, default=5, help="documents per POST (5)")
    parser.add_argument(
        "--attempts", type=int, default=20, help="failures after which a batch is given up (20)"
    )
    parser.add_argument("--seed", type=int, default=5, help="seed of the synthetic documents")
    parser.add_argument(
        "--queue-bound",
        type=int,
        default=0,
        help="ingest.queue_bound for the stack (default: the configured one)",
    )
    parser.add_argument(
        "--retry-after",
        type=int,
        default=0,
        help="ingest.retry_after_seconds for the stack (default: the configured one)",
    )
    parser.add_argument(
        "--embedder",
        choices=EMBEDDERS,
        default="hashing",
        help="hashing (default): the pipeline's own cost: a model: the real model (slow)",
    )
    parser.add_argument(
        "--timeout", type=float, default=1800, help="seconds to wait until all are indexed"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the smoke form: 300 documents, queue bound 10 (so that 429s are seen), "
        "Retry-After 1 s",
    )
    parser.add_argument(
        "--keep-dir", action="store_true", help="keep the stack's temporary folder (logs)"
    )
    args = parser.parse_args()
    if args.quick:
        args.docs, args.queue_bound = 300, args.queue_bound or 10
        args.retry_after = args.retry_after or 1
    if min(args.docs, args.clients, args.batch, args.attempts) < 1:
        parser.error("--docs, --clients, --batch and --attempts must be at least 1")
    return args


def main() -> None:
    """Flood a private stack's ingest, wait until everything is indexed, print the figures."""
    args = parse_args()
    use_embedder(args.embedder)
    documents = make_documents(args.docs, args.seed)
    expected_chunks = chunker_count(documents)
    key = secrets.token_urlsafe(24)
    env = {"SLUICE_AUTH__API_KEYS": json.dumps({key: TENANT})}
    if args.queue_bound:
        env["SLUICE_INGEST__QUEUE_BOUND"] = str(args.queue_bound)
    if args.retry_after:
        env["SLUICE_INGEST__RETRY_AFTER_SECONDS"] = str(args.retry_after)
    bound = args.bound = args.queue_bound or load_settings(IngestConfig).ingest.queue_bound
    say(
        f"{len(documents)} documents ({expected_chunks} chunks), {args.clients} clients, "
        f"batches of {args.batch}, queue bound {bound}; starting the stack ({args.embedder})"
    )
    with running_stack(args.keep_dir, args.embedder, extra_env=env) as stack:
        loads = [load_average()]
        say(f"load before: {loads[0]}; flooding")
        with RssSampler(stack) as rss, DepthSampler(stack) as depths:
            tally, first_post, submit_seconds = flood(stack, key, documents, args)
            say(f"all batches answered in {submit_seconds:.1f} s; waiting until all are indexed")
            statuses, chunks, waited, latest = drain(stack, tally.acknowledged, args.timeout)
        loads.append(load_average())
        rows = milvus_rows(stack, chunks)
        problems = report(
            args, tally, submit_seconds, depths.peak, statuses, chunks, rows, expected_chunks
        )
        print(
            f"\nindexed: the last document {latest - first_post:.1f} s after the first POST "
            f"({len(tally.acknowledged) / max(latest - first_post, 1e-9):.0f} docs/s end to end; "
            f"waited {waited:.1f} s after the last 202)"
        )
        print(f"load average: before {loads[0]}, after {loads[1]} ({os.cpu_count()} CPUs)")
        print("\nRSS of every stack process during the flood and the drain:")
        for line in rss.table():
            print(line)
    if problems:
        raise SystemExit("FAILED: " + "; ".join(problems))


def report(
    args: argparse.Namespace,
    tally: Tally,
    submit_seconds: float,
    peak_depth: dict[str, int],
    statuses: Counter[str],
    chunks: int,
    rows: int,
    expected_chunks: int,
) -> list[str]:
    """Print the flood's figures; the problems found (empty: none)."""
    answers = sum(tally.statuses.values())
    print(f"\nanswers ({answers} POSTs of up to {args.batch} documents, {args.clients} clients):")
    for status, count in sorted(tally.statuses.items()):
        print(f"  {status}: {count}")
    if tally.retry_after:
        print(
            "  Retry-After values on 429: "
            + ", ".join(f"{v!r} x{n}" for v, n in tally.retry_after.items())
        )
    print(
        f"  POST latency ms: 202 p50 {ms(tally.latency_202, 0.5)} p99 {ms(tally.latency_202, 0.99)}"
        f"; 429 p50 {ms(tally.latency_429, 0.5)} p99 {ms(tally.latency_429, 0.99)}"
    )
    acknowledged = len(tally.acknowledged)
    print(
        f"  acknowledged {acknowledged} of {args.docs} documents in {submit_seconds:.1f} s "
        f"({acknowledged / max(submit_seconds, 1e-9):.0f} docs/s); {tally.unchanged} answered "
        f"unchanged"
    )
    print(
        "  delivery queues, peak waiting jobs: "
        + ", ".join(f"{name} {depth}" for name, depth in peak_depth.items())
        + f" (ingest answers 429 above {args.bound} on transform's)"
    )
    failures = sum(tally.failures.values())
    print(f"  failures: {failures}" + ("" if not failures else f" {dict(tally.failures)}"))
    for example in tally.examples:
        print(f"    e.g. {example}")
    print(f"\nrecords of the acknowledged documents: {dict(statuses)}")
    print(f"chunks: Milvus {rows}, records {chunks}, chunker {expected_chunks} expected")
    problems = []
    if failures:
        problems.append(f"{failures} answers other than 202 or 429 with Retry-After")
    if tally.lost_batches:
        problems.append(f"{tally.lost_batches} batches never acknowledged")
    if len(tally.acknowledged) != args.docs:
        problems.append(f"{args.docs - len(tally.acknowledged)} documents not acknowledged")
    not_indexed = len(tally.acknowledged) - statuses[Status.INDEXED]
    if not_indexed:
        problems.append(f"{not_indexed} acknowledged documents not indexed")
    if not (rows == chunks == expected_chunks) and not not_indexed:
        problems.append(f"Milvus holds {rows} chunks, records {chunks}, expected {expected_chunks}")
    return problems


if __name__ == "__main__":
    main()
