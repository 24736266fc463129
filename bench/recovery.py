"""Recovery: how long after a kill -9 and a restart is the pipeline back to its normal rate?

Starts a private local stack (temporary folder, free ports, the hashing embedder by default,
the configured worker and lock timings) and always stops it. Then, for each component in turn
(`--components`; by default worker-transform-1, worker-index-1, transform, index, ingest,
redis, milvus), with a tenant of its own:

1. feed: one client posts `--docs` documents in batches of `--batch` at a steady `--rate`
   (documents/s), on a fixed schedule; what is not acknowledged (a connection error, 429, 5xx)
   is posted again after a pause, as a client would, and the schedule catches up.
2. `--kill-after` seconds into the feed the component is killed with SIGKILL (its process
   group, as `Stack.kill` does), and `--down` seconds later started again (`Stack.start`,
   then `Stack.wait_ready`), as tests/integration/test_fault_suite.py does.
3. waits until every acknowledged document is `indexed`, then reads each one's `indexed_at`.

From those times it derives, per component (times from the restart, i.e. `Stack.start`):
- **normal**: the indexed rate before the kill (from `--warm` s into the feed to the kill);
- **dip**: the lowest indexed rate over a sliding `--window` between the kill and recovery;
- **rate back**: when the indexed rate over the last `--window` seconds is first >= 90 % of
  normal again (the issue's goal: within 30 s of the restart);
- **caught up**: when the backlog (acknowledged but not indexed) is first back within the
  largest backlog seen before the kill (plus one batch);
- **all indexed**: when the last document was indexed (the feed ends `docs/rate` s after it
  began; undisturbed, the last one is indexed shortly after).

A document whose delivery was lost (ingest or Redis killed between writing its record and
enqueuing its job, then a resubmission answered `unchanged`) is published again by the
reconciler only after `worker.reconcile_after_seconds` (600 s by default): `--reconcile-after`
shortens it. Figures are reported, never asserted: the script fails only if a document
acknowledged with 202 is not indexed within `--timeout` s after the feed, or Milvus's chunk
count disagrees.

    uv run --frozen python bench/recovery.py                        # all seven, ~10 minutes
    uv run --frozen python bench/recovery.py --components index,redis --docs 1500
    uv run --frozen python bench/recovery.py --quick                # ingest and index, briefly
"""

from __future__ import annotations

import argparse
import itertools
import math
import os
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
from redis.exceptions import RedisError

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (`python bench/...`): make `dev` importable
    sys.path.insert(0, str(ROOT))

from bench.common import EMBEDDERS, load_average, running_stack, say, use_embedder  # noqa: E402
from bench.pipeline_throughput import make_documents  # noqa: E402
from dev.stack import Stack  # noqa: E402
from sluice.lifecycle import Status  # noqa: E402
from sluice.settings import (  # noqa: E402
    MilvusSettings,
    QueuesConfig,
    TransformConfig,
    load_settings,
)
from sluice.stores.documents import DocumentStore  # noqa: E402
from sluice.stores.milvus import ChunkStore  # noqa: E402

COMPONENTS = (
    "worker-transform-1",
    "worker-index-1",
    "transform",
    "index",
    "ingest",
    "redis",
    "milvus",
)
QUICK_COMPONENTS = ("ingest", "index")
BACK = 0.9  # "back to normal": at least this share of the undisturbed rate
GOAL_SECONDS = 30.0


@dataclass
class Feed:
    """One client posting batches on a schedule; what it saw."""

    url: str
    tenant: str
    documents: list[dict[str, Any]]
    batch: int
    rate: float
    acknowledged_at: dict[str, float] = field(default_factory=dict)  # id -> epoch of its 202
    answers: Counter[str] = field(default_factory=Counter)
    started: float = 0.0  # epoch of the first POST
    finished: float = 0.0  # epoch of the last 202
    error: BaseException | None = None
    progress: threading.Event = field(default_factory=threading.Event)

    def run(self) -> None:
        """Post every batch at its time (`n * batch / rate` after the start), each until 202."""
        try:
            with httpx.Client(base_url=self.url, timeout=30) as client:
                self.started = time.time()
                self.progress.set()
                for n, start in enumerate(range(0, len(self.documents), self.batch)):
                    due = self.started + n * self.batch / self.rate
                    time.sleep(max(0.0, due - time.time()))
                    self._post(client, self.documents[start : start + self.batch])
                self.finished = time.time()
        except BaseException as error:  # reported by main
            self.error = error

    def _post(self, client: httpx.Client, batch: list[dict[str, Any]]) -> None:
        body = {"documents": batch}
        deadline = time.monotonic() + 300
        while time.monotonic() < deadline:
            try:
                response = client.post("/documents", json=body)
            except httpx.HTTPError as error:
                self.answers[f"socket {type(error).__name__}"] += 1
                time.sleep(0.5)
                continue
            self.answers[str(response.status_code)] += 1
            if response.status_code == 202:
                now = time.time()
                for result in response.json()["documents"]:
                    self.acknowledged_at[result["id"]] = now
                    if result["status"] == Status.UNCHANGED:
                        self.answers["documents answered unchanged"] += 1
                return
            if response.status_code in (429, 503) or response.status_code >= 500:
                time.sleep(float(response.headers.get("Retry-After", "0.5")))
                continue
            raise SystemExit(f"ingest answered {response.status_code}: {response.text[:300]}")
        raise SystemExit("a batch was not acknowledged within 300 s")


@dataclass
class Outcome:
    """One component's run: the events' times (epoch) and the documents' times."""

    component: str
    feed: Feed
    killed: float
    restarted: float
    ready: float
    indexed_at: dict[str, float]
    statuses: Counter[str]
    chunks: int
    rows: int


@dataclass
class Figures:
    """What a run measured (seconds from the restart; rates in documents/s)."""

    normal: float
    normal_low: float  # the lowest windowed rate before the kill
    dip: float
    stall: float  # the longest time without any document indexed, after the kill
    rate_back: float | None
    caught_up: float | None
    all_indexed: float | None
    normal_lag: float  # the longest time from 202 to indexed before the kill


def windowed_rate(times: list[float], end: float, window: float) -> float:
    """Documents indexed in (end - window, end], per second (`times` sorted)."""
    return (_count_until(times, end) - _count_until(times, end - window)) / window


def _count_until(times: list[float], moment: float) -> int:
    """How many of the sorted times are <= moment."""
    low, high = 0, len(times)
    while low < high:
        middle = (low + high) // 2
        if times[middle] <= moment:
            low = middle + 1
        else:
            high = middle
    return low


def measure(outcome: Outcome, args: argparse.Namespace) -> Figures:
    """The run's figures from its documents' acknowledgement and indexing times."""
    indexed = sorted(outcome.indexed_at.values())
    acknowledged = sorted(outcome.feed.acknowledged_at.values())
    start, kill, restart = outcome.feed.started, outcome.killed, outcome.restarted
    step, window = 0.1, args.window
    base_from = start + args.warm
    normal = (_count_until(indexed, kill) - _count_until(indexed, base_from)) / (kill - base_from)
    ticks = [base_from + window + i * step for i in range(int((kill - base_from - window) / step))]
    normal_low = min((windowed_rate(indexed, t, window) for t in ticks), default=normal)
    backlog = [_count_until(acknowledged, t) - _count_until(indexed, t) for t in ticks]
    normal_backlog = max(backlog, default=0) + args.batch
    last = max(indexed, default=restart)
    rate_back = caught_up = None
    dip = math.inf
    t = kill + window
    while t <= last + window and (rate_back is None or caught_up is None):
        rate = windowed_rate(indexed, t, window)
        if rate_back is None:
            dip = min(dip, rate)
            if t >= restart and rate >= BACK * normal:
                rate_back = t - restart
        behind = _count_until(acknowledged, t) - _count_until(indexed, t)
        if caught_up is None and t >= restart and behind <= normal_backlog:
            caught_up = t - restart
        t += step
    after_kill = [kill, *(x for x in indexed if x > kill)]
    stall = max((b - a for a, b in itertools.pairwise(after_kill)), default=0.0)
    complete = len(indexed) == len(outcome.feed.documents)
    before_kill = [
        outcome.indexed_at[i] - outcome.feed.acknowledged_at[i]
        for i in outcome.indexed_at
        if base_from <= outcome.feed.acknowledged_at[i] < kill
    ]
    return Figures(
        normal=normal,
        normal_low=normal_low,
        dip=0.0 if dip is math.inf else dip,
        stall=stall,
        rate_back=rate_back,
        caught_up=caught_up,
        all_indexed=(last - restart) if complete else None,
        normal_lag=max(before_kill, default=0.0),
    )


def wait_all_indexed(
    store: DocumentStore, tenant: str, ids: list[str], timeout: float
) -> Counter[str]:
    """Poll the records until every document is indexed or failed (or the timeout); the
    statuses seen last. Redis errors (a Redis just restarted) are waited out."""
    deadline = time.monotonic() + timeout
    statuses: Counter[str] = Counter()
    while time.monotonic() < deadline:
        try:
            records = store.get_many([(tenant, doc_id) for doc_id in ids])
        except RedisError:
            time.sleep(0.5)
            continue
        statuses = Counter(r.status.value if r else "missing" for r in records)
        if statuses[Status.INDEXED] + statuses[Status.FAILED] == len(ids):
            break
        time.sleep(0.5)
    return statuses


def run_component(
    stack: Stack, component: str, documents: list[dict[str, Any]], args: argparse.Namespace
) -> Outcome:
    """Feed a tenant of its own, kill and restart the component mid-feed, wait for the end."""
    tenant = f"rec-{component}"[:63]
    docs = [{**d, "tenant": tenant} for d in documents]
    feed = Feed(stack.url("ingest"), tenant, docs, args.batch, args.rate)
    thread = threading.Thread(target=feed.run, name="feed", daemon=True)
    thread.start()
    feed.progress.wait(30)
    time.sleep(max(0.0, feed.started + args.kill_after - time.time()))
    killed = time.time()
    stack.kill(component)
    time.sleep(args.down)
    restarted = time.time()
    stack.start(component)
    stack.wait_ready(component, timeout=120)
    ready = time.time()
    say(
        f"  killed {component}, started again {restarted - killed:.1f} s later, "
        f"ready after {ready - restarted:.1f} s more"
    )
    thread.join(timeout=len(docs) / args.rate + 600)
    if feed.error is not None:
        raise SystemExit(f"the feed of {component} failed: {feed.error!r}")
    if thread.is_alive():
        raise SystemExit(f"the feed of {component} did not finish")
    redis = Redis.from_url(stack.url("redis"))
    try:
        store = DocumentStore(redis, load_settings(QueuesConfig).redis.key_prefix)
        ids = sorted(feed.acknowledged_at)
        statuses = wait_all_indexed(store, tenant, ids, args.timeout)
        records = store.get_many([(tenant, doc_id) for doc_id in ids])
    finally:
        redis.close()
    indexed = {
        r.id: datetime.fromisoformat(r.indexed_at).timestamp()
        for r in records
        if r is not None and r.status == Status.INDEXED and r.indexed_at
    }
    chunks = sum(r.chunks for r in records if r is not None and r.status == Status.INDEXED)
    rows = milvus_rows(stack, tenant, chunks)
    return Outcome(component, feed, killed, restarted, ready, indexed, statuses, chunks, rows)


def milvus_rows(stack: Stack, tenant: str, expected: int, timeout: float = 30.0) -> int:
    """The tenant's row count in Milvus, re-read for a while until it is `expected`."""
    store = ChunkStore(
        MilvusSettings(uri=stack.url("milvus")), load_settings(TransformConfig).embedder.identity()
    )
    try:
        deadline = time.monotonic() + timeout
        while True:
            try:
                count = store.count(tenant)
            except Exception:  # a Milvus just restarted: the store reconnects on the next call
                count = -1
            if count == expected or time.monotonic() > deadline:
                return count
            time.sleep(0.5)
    finally:
        store.close()


def wait_stack_ready(stack: Stack, timeout: float = 60.0) -> None:
    """Every process of the stack answers (a run starts on a whole stack)."""
    deadline = time.monotonic() + timeout
    for name in stack.commands():
        while not stack.is_ready(name):
            if time.monotonic() > deadline:
                raise SystemExit(f"{name} is not ready; see {stack.log_path(name)}")
            time.sleep(0.2)


def seconds(value: float | None) -> str:
    """A duration for the table; `-` when it never happened."""
    return "never" if value is None else f"{value:.1f}"


def print_table(outcomes: list[Outcome], figures: list[Figures], args: argparse.Namespace) -> None:
    """One line per component, then what the columns mean and the answers the feeds saw."""
    print(
        f"\nrecovery: {args.docs} documents per component at {args.rate:g} docs/s in batches of "
        f"{args.batch}; kill -9 at {args.kill_after:g} s, restart {args.down:g} s later; "
        f"rates over {args.window:g} s windows; times in s from the restart"
    )
    header = (
        f"{'component':<20}{'normal/s':>9}{'low/s':>7}{'dip/s':>7}{'stall':>7}{'ready':>7}"
        f"{'rate back':>10}{'caught up':>10}{'all indexed':>12}{'feed end':>9}{'  <=30 s':>9}"
    )
    print(header)
    for outcome, f in zip(outcomes, figures, strict=True):
        feed_end = outcome.feed.finished - outcome.restarted
        met = f.rate_back is not None and f.rate_back <= GOAL_SECONDS
        print(
            f"{outcome.component:<20}{f.normal:>9.1f}{f.normal_low:>7.1f}{f.dip:>7.1f}"
            f"{f.stall:>7.1f}{outcome.ready - outcome.restarted:>7.1f}"
            f"{seconds(f.rate_back):>10}{seconds(f.caught_up):>10}{seconds(f.all_indexed):>12}"
            f"{feed_end:>9.1f}{'  yes' if met else '  NO':>9}"
        )
    print(
        "  normal: indexed docs/s before the kill (low: its lowest window); dip: the lowest "
        "window after the kill;\n  stall: the longest gap with nothing indexed after the kill; "
        "ready: wait_ready after the start;\n  rate back: window rate >= 90 % of normal; caught "
        "up: backlog within the normal one; feed end: the last 202;\n  <=30 s: rate back within "
        "30 s of the restart (the issue's goal)"
    )
    print("\nper component: answers the feed saw; records; chunks in Milvus vs records")
    for outcome, f in zip(outcomes, figures, strict=True):
        answers = ", ".join(f"{k}: {v}" for k, v in sorted(outcome.feed.answers.items()))
        print(
            f"  {outcome.component:<20}{answers}; {dict(outcome.statuses)}; "
            f"Milvus {outcome.rows} / {outcome.chunks}; lag before the kill <= {f.normal_lag:.1f} s"
        )


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--components",
        default=",".join(COMPONENTS),
        help=f"comma-separated, in order (default {','.join(COMPONENTS)})",
    )
    parser.add_argument("--docs", type=int, default=3000, help="documents per component (3000)")
    parser.add_argument("--rate", type=float, default=50, help="documents per second fed (50)")
    parser.add_argument("--batch", type=int, default=10, help="documents per POST (10)")
    parser.add_argument(
        "--kill-after", type=float, default=20, help="seconds into the feed of the kill (20)"
    )
    parser.add_argument(
        "--down", type=float, default=1, help="seconds between the kill and the start (1)"
    )
    parser.add_argument("--window", type=float, default=5, help="seconds of a rate window (5)")
    parser.add_argument(
        "--warm", type=float, default=5, help="seconds of the feed left out of 'normal' (5)"
    )
    parser.add_argument("--seed", type=int, default=3, help="seed of the synthetic documents")
    parser.add_argument("--embedder", choices=EMBEDDERS, default="hashing", help="(hashing)")
    parser.add_argument(
        "--timeout", type=float, default=900, help="seconds to wait after a feed (900)"
    )
    parser.add_argument(
        "--reconcile-after",
        type=int,
        default=0,
        help="worker.reconcile_after_seconds for the stack, and a 2 s reconcile interval "
        "(default: the configured ones, 600 s and 30 s)",
    )
    parser.add_argument(
        "--quick",
        action="store_true",
        help=f"the smoke form: {' and '.join(QUICK_COMPONENTS)}, 500 documents at 40/s, "
        "kill at 7 s, 3 s windows, --reconcile-after 15, --timeout 120",
    )
    parser.add_argument(
        "--keep-dir", action="store_true", help="keep the stack's temporary folder (logs)"
    )
    args = parser.parse_args()
    if args.quick:
        args.components = ",".join(QUICK_COMPONENTS)
        args.docs, args.rate, args.kill_after, args.window, args.warm = 500, 40, 7, 3, 2
        args.reconcile_after, args.timeout = args.reconcile_after or 15, 120
    args.components = [c for c in args.components.split(",") if c]
    if min(args.docs, args.batch) < 1 or min(args.rate, args.window) <= 0:
        parser.error("--docs, --batch, --rate and --window must be positive")
    if args.kill_after < args.warm + args.window:
        parser.error("--kill-after must leave --warm plus one --window before the kill")
    if args.kill_after >= args.docs / args.rate:
        parser.error("--kill-after must fall within the feed (docs / rate seconds)")
    return args


def main() -> None:
    """Start a private stack, run each component's kill and restart, print the table."""
    args = parse_args()
    use_embedder(args.embedder)
    documents = make_documents(args.docs, args.seed)
    say(f"load before: {load_average()} on {os.cpu_count()} CPUs; starting the stack")
    outcomes: list[Outcome] = []
    env = {}
    if args.reconcile_after:
        env["SLUICE_WORKER__RECONCILE_AFTER_SECONDS"] = str(args.reconcile_after)
        env["SLUICE_WORKER__RECONCILE_INTERVAL_SECONDS"] = "2"
    with running_stack(args.keep_dir, args.embedder, extra_env=env) as stack:
        unknown = [c for c in args.components if c not in stack.commands()]
        if unknown:
            raise SystemExit(f"no such component: {', '.join(unknown)} (see `make status`)")
        for component in args.components:
            wait_stack_ready(stack)
            say(f"{component}: feeding {args.docs} documents at {args.rate:g}/s")
            outcomes.append(run_component(stack, component, documents, args))
            say(f"  load average {load_average()}")
    figures = [measure(outcome, args) for outcome in outcomes]
    print_table(outcomes, figures, args)
    print(f"\nload average after: {load_average()} ({os.cpu_count()} CPUs)")
    problems = [
        f"{o.component}: {len(o.feed.documents) - len(o.indexed_at)} documents not indexed"
        for o in outcomes
        if len(o.indexed_at) != len(o.feed.documents)
    ] + [
        f"{o.component}: Milvus holds {o.rows} chunks, the records {o.chunks}"
        for o in outcomes
        if o.rows != o.chunks
    ]
    if problems:
        raise SystemExit("FAILED: " + "; ".join(problems))


if __name__ == "__main__":
    main()
