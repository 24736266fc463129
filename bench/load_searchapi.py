"""searchapi under load: 200 concurrent connections for 60 s, a mix of dense, text and hybrid.

Starts a private local stack (temporary folder, free ports, API keys on, the MiniLM model by
default so that dense and hybrid queries go through the embedding endpoint) and always stops
it. Then:

1. load: synthetic documents (search_latency's, with rare words so text queries hit) posted to
   ingest with the API key until Milvus holds about `--chunks` chunks; waits until all are
   `indexed`, and checks one query of each mode answers 200.
2. drive: wrk (`make load-tools`) with `--connections` connections for `--seconds` seconds,
   over `--queries` distinct queries, each in turn as dense, text and hybrid
   (`GET /v1/search?q=...&k=10&mode=...`, `Authorization: Bearer <key>`). More distinct
   queries than searchapi's embedding cache holds (searchapi.cache_size, 4096), so dense and
   hybrid queries keep reaching the embedder.

It prints the requests, QPS, latency p50/p90/p99/max, every status seen, the errors (non-2xx,
socket connect/read/write errors, timeouts), the load average before and after, each stack
process's CPU during the run, and the RSS of searchapi and embed (and every other process)
before, at peak and after. Figures are reported, not asserted: the script fails only if the
stack or wrk cannot run, or no search succeeded.

    uv run --frozen python bench/load_searchapi.py [--seconds 60] [--connections 200]
    uv run --frozen python bench/load_searchapi.py --quick      # 10 s, 50 connections
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
import shutil
import subprocess
import sys
import tempfile
import time
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import httpx
from redis import Redis

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (`python bench/...`): make `dev` importable
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    DEFAULT_MODEL,
    EMBEDDERS,
    RssSampler,
    cpu_seconds,
    load_average,
    post_documents,
    rss_bytes,
    running_stack,
    say,
    use_embedder,
    wait_indexed,
)
from bench.search_latency import TENANT, make_documents, make_queries  # noqa: E402
from dev.stack import Stack  # noqa: E402
from sluice.settings import QueuesConfig, load_settings  # noqa: E402
from sluice.stores.documents import DocumentStore  # noqa: E402

MODES = ("dense", "text", "hybrid")
K = 10
POST_BATCH = 50
WATCHED = ("searchapi", "embed")

# wrk runs this in each of its threads: requests cycle through the paths (each thread from its
# own offset), every status is counted, and `done` prints one JSON line with the figures.
WRK_SCRIPT = """
local paths = %(paths)s
wrk.headers["Authorization"] = "Bearer " .. %(key)s
local threads = {}
local counter = 0
statuses = {}

function setup(thread)
  thread:set("offset", #threads * 7919)
  table.insert(threads, thread)
end

function init(args)
  counter = offset or 0
end

function request()
  counter = counter + 1
  return wrk.format("GET", paths[(counter %% #paths) + 1])
end

function response(status, headers, body)
  local s = tostring(status)
  statuses[s] = (statuses[s] or 0) + 1
end

function done(summary, latency, requests)
  local counts = {}
  for _, thread in ipairs(threads) do
    for status, n in pairs(thread:get("statuses") or {}) do
      counts[#counts + 1] = string.format('"%%s": %%d', status, n)
    end
  end
  local e = summary.errors
  io.write(string.format(
    'WRK-JSON {"requests": %%d, "duration_us": %%d, "bytes": %%d, '
      .. '"errors": {"connect": %%d, "read": %%d, "write": %%d, "status": %%d, "timeout": %%d}, '
      .. '"latency_us": {"p50": %%d, "p90": %%d, "p99": %%d, "max": %%d, "mean": %%.1f}, '
      .. '"statuses": [{%%s}]}\\n',
    summary.requests, summary.duration, summary.bytes,
    e.connect, e.read, e.write, e.status, e.timeout,
    latency:percentile(50), latency:percentile(90), latency:percentile(99),
    latency.max, latency.mean, table.concat(counts, "}, {")))
end
"""


def lua_string(value: str) -> str:
    """A Lua string literal (JSON's escaping is valid Lua for these ASCII strings)."""
    return json.dumps(value)


def wrk_script(queries: list[str], key: str) -> str:
    """The Lua script: every query in every mode, interleaved (query 1 dense, text, hybrid,
    query 2 ...)."""
    paths = [
        "/v1/search?" + urlencode({"q": query, "k": K, "mode": mode})
        for query in queries
        for mode in MODES
    ]
    table = "{\n" + ",\n".join(lua_string(p) for p in paths) + "\n}"
    return WRK_SCRIPT % {"paths": table, "key": lua_string(key)}


def wrk_binary() -> str:
    """The wrk executable, or a clear exit."""
    found = shutil.which("wrk")
    if found is None:
        raise SystemExit("wrk is not installed: run `make load-tools` (Debian's wrk package)")
    return found


def ingest_corpus(
    stack: Stack, documents: list[dict[str, Any]], key: str, timeout: float
) -> tuple[int, float]:
    """Post the documents with the API key and wait until all are indexed; their chunks and
    the seconds it took."""
    started = time.monotonic()
    post_documents(stack.url("ingest"), documents, POST_BATCH, auth(key))
    redis = Redis.from_url(stack.url("redis"))
    try:
        store = DocumentStore(redis, load_settings(QueuesConfig).redis.key_prefix)
        keys = [store.key(TENANT, d["id"]) for d in documents]
        wait_indexed(redis, keys, timeout, interval=0.5)
        records = store.get_many([(TENANT, d["id"]) for d in documents])
    finally:
        redis.close()
    return sum(r.chunks for r in records if r is not None), time.monotonic() - started


def auth(key: str) -> dict[str, str]:
    """The headers of a request made with the API key."""
    return {"Authorization": f"Bearer {key}"}


def check_modes(stack: Stack, key: str, query: str) -> None:
    """One search of each mode must answer 200 (text also with hits) before the load."""
    with httpx.Client(base_url=stack.url("searchapi"), headers=auth(key), timeout=60) as client:
        for mode in MODES:
            response = client.get("/v1/search", params={"q": query, "k": K, "mode": mode})
            if response.status_code != 200:
                raise SystemExit(f"{mode} search answered {response.status_code}: {response.text}")
            if mode == "text" and not response.json().get("hits"):
                raise SystemExit(f"text search for {query!r} found nothing: {response.text}")


def run_wrk(
    stack: Stack, script: str, connections: int, threads: int, seconds: int, timeout: int
) -> dict[str, Any]:
    """wrk against searchapi; its JSON figures (and its own summary printed as it is)."""
    with tempfile.NamedTemporaryFile("w", suffix=".lua", delete=False) as file:
        file.write(script)
    command = [
        wrk_binary(),
        f"--connections={connections}",
        f"--threads={threads}",
        f"--duration={seconds}s",
        f"--timeout={timeout}s",
        "--latency",
        f"--script={file.name}",
        stack.url("searchapi"),
    ]
    try:
        result = subprocess.run(command, capture_output=True, text=True, check=False)
    finally:
        os.unlink(file.name)
    lines = result.stdout.splitlines()
    found = [line.removeprefix("WRK-JSON ") for line in lines if line.startswith("WRK-JSON ")]
    if result.returncode != 0 or not found:
        raise SystemExit(f"wrk failed ({result.returncode}):\n{result.stdout}\n{result.stderr}")
    say("wrk's own summary:")
    for line in lines:
        if not line.startswith("WRK-JSON ") and line.strip():
            print(f"  | {line}")
    figures: dict[str, Any] = json.loads(found[0])
    statuses: dict[str, int] = {}
    for per_thread in figures["statuses"]:
        for status, count in per_thread.items():
            statuses[status] = statuses.get(status, 0) + count
    figures["statuses"] = statuses
    return figures


def print_report(
    args: argparse.Namespace,
    figures: dict[str, Any],
    loads: tuple[str, str],
    rss: tuple[dict[str, int], dict[str, int]],
    sampler: RssSampler,
    cpu: dict[str, float],
) -> None:
    """The load's figures."""
    seconds = figures["duration_us"] / 1e6
    requests = figures["requests"]
    statuses: dict[str, int] = figures["statuses"]
    non_2xx = sum(n for status, n in statuses.items() if not status.startswith("2"))
    errors = figures["errors"]
    socket_errors = errors["connect"] + errors["read"] + errors["write"]
    latency = figures["latency_us"]
    print(
        f"\nsearchapi: {args.connections} connections, {seconds:.1f} s, "
        f"{len(MODES)} modes x {args.queries} queries, {args.threads} wrk threads"
    )
    print(f"  requests         {requests}  ({requests / seconds:.1f} QPS)")
    print(
        "  latency ms       "
        + "  ".join(f"{p} {latency[p] / 1000:.1f}" for p in ("p50", "p90", "p99", "max"))
        + f"  mean {latency['mean'] / 1000:.1f}"
    )
    print("  statuses         " + ", ".join(f"{s}: {n}" for s, n in sorted(statuses.items())))
    print(
        f"  errors           non-2xx {non_2xx}; socket {socket_errors} (connect "
        f"{errors['connect']}, read {errors['read']}, write {errors['write']}); "
        f"timeouts (> {args.timeout} s) {errors['timeout']}"
    )
    print(f"  load average     before {loads[0]}  after {loads[1]}  ({os.cpu_count()} CPUs)")
    before, after = rss
    for name in WATCHED:
        if name in sampler.peak:
            print(
                f"  RSS {name:<12} before {before.get(name, 0) / 2**20:.0f} MiB, peak "
                f"{sampler.peak[name] / 2**20:.0f} MiB, after {after.get(name, 0) / 2**20:.0f} MiB"
            )
        else:
            print(f"  RSS {name:<12} not running (the hashing embedder runs inside searchapi)")
    print(f"\nCPU during the load ({seconds:.0f} s):")
    for name, used in sorted(cpu.items(), key=lambda item: -item[1])[:6]:
        print(f"  {name:<22}{used:>7.1f} s  {used / seconds:>5.0%} of a CPU")
    print("\nRSS of every stack process during the load:")
    for line in sampler.table():
        print(line)


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--seconds", type=int, default=60, help="length of the load (60)")
    parser.add_argument("--connections", type=int, default=200, help="connections (200)")
    parser.add_argument("--threads", type=int, default=2, help="wrk threads (2)")
    parser.add_argument(
        "--timeout",
        type=int,
        default=20,
        help="wrk counts a request slower than this (s) as a timeout (20)",
    )
    parser.add_argument("--chunks", type=int, default=2000, help="chunks of the corpus (2000)")
    parser.add_argument(
        "--queries", type=int, default=10_000, help="distinct queries, each in 3 modes (10000)"
    )
    parser.add_argument("--seed", type=int, default=11, help="seed of documents and queries")
    parser.add_argument(
        "--embedder",
        choices=EMBEDDERS,
        default=DEFAULT_MODEL,
        help="the model (default): queries embedded by the embed function; hashing: in searchapi",
    )
    parser.add_argument(
        "--index-timeout", type=float, default=900, help="seconds to wait for the corpus (900)"
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help="the smoke form: 10 s, 50 connections, 150 chunks, 500 queries",
    )
    parser.add_argument(
        "--keep-dir", action="store_true", help="keep the stack's temporary folder (logs)"
    )
    args = parser.parse_args()
    if args.quick:
        args.seconds, args.connections, args.chunks, args.queries = 10, 50, 150, 500
    if min(args.seconds, args.threads, args.chunks, args.queries, args.timeout) < 1:
        parser.error("--seconds, --threads, --chunks, --queries and --timeout must be at least 1")
    if args.connections < args.threads:
        parser.error("--connections must be at least --threads")
    return args


def main() -> None:
    """Load a private stack, drive searchapi with wrk, print the figures."""
    args = parse_args()
    wrk_binary()
    use_embedder(args.embedder)
    documents, chunks = make_documents(args.chunks, args.seed)
    queries = make_queries(args.queries, args.seed)
    key = secrets.token_urlsafe(24)
    keys_env = {"SLUICE_AUTH__API_KEYS": json.dumps({key: TENANT})}
    say(f"{len(documents)} documents -> {chunks} chunks; starting the stack ({args.embedder})")
    with running_stack(args.keep_dir, args.embedder, extra_env=keys_env) as stack:
        say("ingesting with the API key, waiting until all are indexed")
        indexed, took = ingest_corpus(stack, documents, key, args.index_timeout)
        say(f"{indexed} chunks indexed in {took:.0f} s")
        check_modes(stack, key, queries[0])
        script = wrk_script(queries, key)
        time.sleep(2)  # let the indexing's tail settle before the "before" figures
        loads = [load_average()]
        rss_before = rss_bytes(stack)
        cpu_before = cpu_seconds(stack)
        say(f"load before: {loads[0]}; wrk: {args.connections} connections for {args.seconds} s")
        with RssSampler(stack) as sampler:
            figures = run_wrk(
                stack, script, args.connections, args.threads, args.seconds, args.timeout
            )
        cpu_after = cpu_seconds(stack)
        loads.append(load_average())
        rss_after = rss_bytes(stack)
        cpu = {name: cpu_after.get(name, 0.0) - used for name, used in cpu_before.items()}
        print_report(args, figures, (loads[0], loads[1]), (rss_before, rss_after), sampler, cpu)
        if not figures["statuses"].get("200"):
            raise SystemExit("no search answered 200")


if __name__ == "__main__":
    main()
