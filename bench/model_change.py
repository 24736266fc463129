"""A model change measured: copy throughput against the pipeline's own, and search latency
before and during it.

    uv run --frozen python bench/model_change.py [--docs 1000] [--to all-MiniLM-L6-v2] [--quick]

On a private stack with the hashing embedder: ingest `--docs` documents (the pipeline's
hashing throughput), search without pause for `--window` seconds (latency before), start
`sluice models migrate --to <model>` while the searches go on (latency during, and the copy's
documents and chunks per second), then, with the new model active, ingest as many documents
again (the pipeline's throughput with that model: what the copy competes with). Figures are
printed, never asserted; the load average is printed with them.
"""

from __future__ import annotations

import argparse
import sys
import threading
import time
from pathlib import Path

import httpx
from redis import Redis

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from bench.common import (
    DEFAULT_MODEL,
    load_average,
    percentile,
    post_documents,
    running_stack,
    say,
    use_embedder,
    wait_indexed,
)
from bench.pipeline_throughput import make_documents
from dev.stack import Stack

TENANT = "bench"
QUERIES = ["water rights", "river basin policy", "grain harvest", "network latency", "budget"]


class Searcher(threading.Thread):
    """Hybrid searches one after the other; latencies (ms) and failures by phase."""

    def __init__(self, url: str) -> None:
        super().__init__(daemon=True)
        self.url = url
        self.phase = "before"
        self.latency: dict[str, list[float]] = {}
        self.failed: dict[str, int] = {}
        self.stop = threading.Event()

    def run(self) -> None:
        with httpx.Client(timeout=30) as client:
            n = 0
            while not self.stop.is_set():
                n += 1
                params = {"q": QUERIES[n % len(QUERIES)], "tenant": TENANT, "k": 10}
                started = time.perf_counter()
                response = client.get(self.url, params=params)
                took = (time.perf_counter() - started) * 1000
                phase = self.phase
                if response.status_code == 200:
                    self.latency.setdefault(phase, []).append(took)
                else:
                    self.failed[phase] = self.failed.get(phase, 0) + 1


def ingest(stack: Stack, redis: Redis, docs: list[dict[str, object]]) -> tuple[float, int]:
    """Seconds from the first POST until every document is indexed, and their chunks."""
    for doc in docs:
        doc["tenant"] = TENANT
    started = time.perf_counter()
    post_documents(stack.url("ingest"), docs, 50)
    keys = [f"sluice:doc:{TENANT}:{d['id']}" for d in docs]
    wait_indexed(redis, keys, 3600)
    took = time.perf_counter() - started
    chunks = sum(int(redis.hget(k, "chunks") or 0) for k in keys)
    return took, chunks


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--docs", type=int, default=1000, help="documents (1000)")
    parser.add_argument(
        "--to", default=DEFAULT_MODEL, help=f"the model to change to ({DEFAULT_MODEL})"
    )
    parser.add_argument("--window", type=float, default=20, help="seconds of searches before (20)")
    parser.add_argument("--quick", action="store_true", help="100 documents, 5 s: seconds")
    parser.add_argument("--keep", action="store_true", help="keep the stack's folder")
    args = parser.parse_args()
    if args.quick:
        args.docs, args.window = 100, 5
    use_embedder("hashing")
    with running_stack(args.keep, "hashing") as stack:
        redis = Redis.from_url(stack.url("redis"))
        admin = httpx.Client(
            base_url=stack.url("models") + "/v1/models", headers=stack.admin_headers(), timeout=60
        )
        say(f"load average {load_average()}; ingesting {args.docs} documents with hashing")
        hashing_s, chunks = ingest(stack, redis, make_documents(args.docs, seed=1))
        searcher = Searcher(stack.url("searchapi") + "/v1/search")
        searcher.start()
        time.sleep(args.window)
        searcher.phase = "during"
        say(f"changing to {args.to}")
        started = time.perf_counter()
        response = admin.post("/migrate", json={"to": args.to})
        if response.status_code != 202:
            raise SystemExit(f"migrate answered {response.status_code}: {response.text}")
        while (state := admin.get("").json())["phase"] != "previous":
            if state["message"]:
                raise SystemExit(state["message"])
            time.sleep(0.5)
        copy_s = time.perf_counter() - started
        searcher.phase = "after"
        time.sleep(min(args.window, 5))
        searcher.stop.set()
        searcher.join()
        say(f"load average {load_average()}; ingesting {args.docs} more documents with {args.to}")
        model_s, model_chunks = ingest(stack, redis, make_documents(args.docs, seed=2))

    print(f"\nmodel change hashing -> {args.to}, {args.docs} documents ({chunks} chunks)")
    print(f"load average at the end: {load_average()}")
    print(f"{'':32} {'docs/s':>8} {'chunks/s':>9}")
    print(f"{'pipeline, hashing':32} {args.docs / hashing_s:8.1f} {chunks / hashing_s:9.1f}")
    print(f"{'copy into ' + args.to:32} {args.docs / copy_s:8.1f} {chunks / copy_s:9.1f}")
    print(f"{'pipeline, ' + args.to:32} {args.docs / model_s:8.1f} {model_chunks / model_s:9.1f}")
    print(f"copy / pipeline with {args.to}: {model_s / copy_s:.2f}x")
    print(f"\n{'hybrid search':14} {'n':>6} {'p50 ms':>8} {'p99 ms':>8} {'failed':>7}")
    for phase in ("before", "during", "after"):
        values = searcher.latency.get(phase, [])
        print(
            f"{phase:14} {len(values):6d} {percentile(values, 0.5):8.1f} "
            f"{percentile(values, 0.99):8.1f} {searcher.failed.get(phase, 0):7d}"
        )
    return 1 if sum(searcher.failed.values()) else 0


if __name__ == "__main__":
    sys.exit(main())
