"""Search latency: how much does searchapi add to a search made straight against Milvus?

Starts a private local stack (Redis, milvus-lite, the three functions, the RQ workers and
searchapi) in a temporary folder on free ports, and always stops it. Then:

1. load: posts synthetic documents (seeded, English-like, with some rare words so that text
   queries find something) to ingest in batches of 100 until Milvus will hold about `--chunks`
   chunks, waits until every one is `indexed`, flushes the collection and waits until
   milvus-lite has built its HNSW index (see `flush`), warms both paths up and checks that
   they find the same chunks.
2. measure, for each mode (dense, text, hybrid) and for 1 and 16 concurrent clients (threads,
   each with its own client), the same fixed list of queries made two ways:
   - searchapi: `GET /v1/search?q=...&k=10&mode=...&tenant=...`, an httpx.Client per thread
     (keep-alive);
   - direct: the search searchapi makes, made with pymilvus (a dedicated `MilvusClient` per
     thread, same alias, filter, output fields, limit and search parameters); dense and hybrid
     embed the query with the Python `HashingEmbedder`, timed as part of the search.
   The two paths alternate ABBA-wise (direct, searchapi, searchapi, direct, ...), request by
   request with one client and in rounds with 16, so a slow spell of the machine hits both.

It prints, per mode, p50 and p99 latency (ms) and throughput (queries/s) of both paths, the
latency searchapi adds at p50, the throughput ratio searchapi/direct at 16 clients, a verdict
against the targets "under 1 ms added at p50" and "no throughput loss at 16 clients", and the
CPU each side used per query (to see what limits throughput on a small machine).

    uv run --frozen python bench/search_latency.py [--chunks 10000] [--seed 11] [--keep-dir]
"""

from __future__ import annotations

import argparse
import itertools
import json
import math
import os
import random
import resource
import statistics
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
from pymilvus import MilvusClient
from redis import Redis

from sluice.analysis import analyzer
from sluice.chunker import chunk_text
from sluice.embedders.hashing import HashingEmbedder
from sluice.settings import IndexConfig, QueuesConfig, TransformConfig, load_settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (`python bench/...`): make `dev` importable
    sys.path.insert(0, str(ROOT))

from bench.common import (  # noqa: E402
    cpu_seconds,
    document_text,
    machine_cpu_seconds,
    post_documents,
    running_stack,
    say,
    wait_indexed,
)
from dev.stack import Stack  # noqa: E402

TENANT = "bench"
FILTER = f'tenant == "{TENANT}"'  # what searchapi's filter builder makes for this tenant
K = 10
CANDIDATES = 100  # searchapi.candidates: hybrid takes this many hits from each search
OUTPUT_FIELDS = ["chunk_id", "doc_id", "chunk", "title", "text", "metadata"]
# searchapi's default fusion (internal/search/fusion.go): min-max scaled scores, weighted
FUSION_WEIGHTS = (1.0, 1.25)  # dense, text


def fuse(dense: list[dict[str, Any]], text: list[dict[str, Any]]) -> list[dict[str, Any]]:
    """The two rankings fused as searchapi fuses them by default, best first."""
    scores: dict[str, float] = {}
    hits: dict[str, dict[str, Any]] = {}
    for ranking, weight in zip((dense, text), FUSION_WEIGHTS, strict=True):
        if not ranking:
            continue
        top, bottom = ranking[0]["score"], ranking[-1]["score"]
        for hit in ranking:
            scaled = 1.0 if top == bottom else (hit["score"] - bottom) / (top - bottom)
            scores[hit["chunk_id"]] = scores.get(hit["chunk_id"], 0.0) + weight * scaled
            hits[hit["chunk_id"]] = hit
    return [hits[c] for c in sorted(scores, key=lambda c: (-scores[c], c))]


MODES = ("dense", "text", "hybrid")
PATHS = ("direct", "searchapi")
POST_BATCH = 100
ADDED_TARGET_MS = 1.0
THROUGHPUT_TARGET = 1.0
T_95 = {1: 12.71, 2: 4.30, 3: 3.18, 4: 2.78, 5: 2.57, 6: 2.45, 7: 2.36, 8: 2.31, 9: 2.26}

_COMMON = """
the of and to in is that for it as was with be by on not this are or from at which but have an
they you were she there been one all we their has would when if so no will can more other some
time people year way day man thing woman life child world school state family student group
country problem hand part place case week company system program question work government
number night point home water room mother area money story fact month lot right study book eye
job word business issue side kind head house service friend father power hour game line end
member law car city community name president team minute idea body information back parent
face level office door health person art war history party result change morning reason
research teacher force education river bridge market garden engine signal measure ordinary
careful quiet bright heavy simple early recent local public private common small large long
short open clear strong free full certain whole able human social make know take see come think
look want give use find tell ask seem feel try leave call keep provide hold turn follow begin
bring write stand hear allow meet include continue learn lead understand watch create speak
read spend grow offer remember consider appear build serve expect
"""
_RARE = """
aqueduct weir millrace culvert penstock flume spillway cofferdam sluicegate headrace tailrace
floodgate lock towpath wharf jetty caisson siphon cistern reservoir turbine waterwheel sediment
silt estuary delta meander oxbow tributary watershed aquifer borehole artesian irrigation
canal barge lighthouse quay dredger embankment levee dyke polder marsh fen bog peat heron
kingfisher otter beaver salmon trout eel lamprey mussel reed willow alder osier
"""
COMMON = _COMMON.split()
RARE = _RARE.split()
STOPWORDS = set(COMMON[: COMMON.index("time")])
CONTENT = [w for w in COMMON if w not in STOPWORDS]


def collection() -> str:
    """The alias searchapi searches (milvus.collection)."""
    return str(load_settings(IndexConfig).milvus.collection)


# --- synthetic documents and queries -----------------------------------------------------


def sentence(rng: random.Random) -> str:
    """An English-like sentence of 6 to 22 words; one in five holds a rare word."""
    words = rng.choices(COMMON, k=rng.randint(6, 22))
    if rng.random() < 0.2:
        words.insert(rng.randint(1, len(words) - 1), rng.choice(RARE))
    if rng.random() < 0.3:
        words.insert(rng.randint(2, len(words) - 1), rng.choice(COMMON) + ",")
    return " ".join(words).capitalize() + rng.choice(".......?!")


def make_documents(chunks: int, seed: int) -> tuple[list[dict[str, Any]], int]:
    """Deterministic documents, as ingest takes them, until they make at least `chunks` chunks
    (cut as the transform function will); the documents and their number of chunks."""
    settings = load_settings(TransformConfig).chunker
    rng = random.Random(seed)
    documents: list[dict[str, Any]] = []
    total = 0
    while total < chunks:
        text = document_text(rng, sentence)
        total += len(chunk_text(text, settings.size, settings.overlap))
        documents.append(
            {
                "id": f"lat-{seed}-{len(documents):06d}",
                "tenant": TENANT,
                "title": " ".join(rng.choices(CONTENT + RARE, k=rng.randint(3, 7))).title(),
                "text": text,
                "metadata": {"source": "bench", "n": len(documents)},
            }
        )
    return documents, total


def make_queries(count: int, seed: int) -> list[str]:
    """Short queries: a rare word and one to three content words, or two to four content words;
    a few with a stopword, as people type them."""
    rng = random.Random(seed + 1)
    queries: list[str] = []
    while len(queries) < count:
        words = rng.sample(CONTENT, rng.randint(1, 3))
        if rng.random() < 0.7:
            words.insert(rng.randint(0, len(words)), rng.choice(RARE))
        else:
            words.append(rng.choice(CONTENT))
        if rng.random() < 0.2:
            words.insert(1, rng.choice(sorted(STOPWORDS)))
        query = " ".join(words)
        if query not in queries:
            queries.append(query)
    return queries


# --- the stack ---------------------------------------------------------------------------


def process_cpu(exclude_groups: set[int]) -> dict[int, tuple[str, float]]:
    """CPU seconds used so far by every process outside the given process groups (and this
    one), with a short command line, by pid."""
    ticks = os.sysconf("SC_CLK_TCK")
    found: dict[int, tuple[str, float]] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit() or int(entry.name) == os.getpid():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
            if int(fields[2]) in exclude_groups:
                continue
            argv = (entry / "cmdline").read_bytes().split(b"\0")
        except (OSError, IndexError):
            continue
        words = [a.decode(errors="replace") for a in argv if a]
        if words and words[0].rsplit("/", 1)[-1].startswith("python"):
            words = words[1:]  # name the script rather than the interpreter
        words = words[:3]
        command = " ".join("/".join(w.split("/")[-2:]) for w in words)
        found[int(entry.name)] = (command.strip()[:70], (int(fields[11]) + int(fields[12])) / ticks)
    return found


def own_cpu_seconds() -> float:
    """CPU seconds this process (the benchmark's clients) has used so far."""
    usage = resource.getrusage(resource.RUSAGE_SELF)
    return usage.ru_utime + usage.ru_stime


def cpu_snapshot(stack: Stack) -> dict[str, float]:
    """The CPU counters a run is charged with: milvus, searchapi, this process, the machine."""
    stack_cpu = cpu_seconds(stack)
    processes, interrupts = machine_cpu_seconds()
    return {
        "milvus": stack_cpu.get("milvus", 0.0),
        "searchapi": stack_cpu.get("searchapi", 0.0),
        "stack": sum(stack_cpu.values()),
        "client": own_cpu_seconds(),
        "machine": processes,
        "interrupts": interrupts,
    }


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


# --- loading -----------------------------------------------------------------------------


def load(stack: Stack, documents: list[dict[str, Any]], expected: int, timeout: float) -> int:
    """Ingest the documents, wait until all are indexed; the rows Milvus then holds for them
    (re-read for a while until `expected`: reads may lag writes)."""
    prefix = load_settings(QueuesConfig).redis.key_prefix
    keys = [f"{prefix}:doc:{TENANT}:{d['id']}" for d in documents]
    redis = Redis.from_url(stack.url("redis"))
    try:
        post_documents(stack.url("ingest"), documents, POST_BATCH)
        wait_indexed(redis, keys, timeout, interval=0.5)
    finally:
        redis.close()
    client = MilvusClient(uri=stack.url("milvus"), dedicated=True)
    try:
        deadline = time.monotonic() + 30
        count = -1
        while time.monotonic() < deadline:
            rows = client.query(collection(), filter=FILTER, output_fields=["count(*)"])
            count = int(rows[0]["count(*)"])
            if count == expected:
                return count
            time.sleep(0.5)
        raise SystemExit(f"Milvus holds {count} chunks of tenant {TENANT!r}, not {expected}")
    finally:
        client.close()


def flush(stack: Stack, settle: float, timeout: float) -> str:
    """Flush the collection, wait until milvus-lite has built the dense index of every data
    file it wrote, then let background work settle; what is then on disk.

    milvus-lite keeps recent rows in a memtable, searched by brute force, until it holds 128
    MiB or is flushed; after a flush its single background thread compacts and builds the HNSW
    index files, and until then the segments are searched without one. Its describe_index
    always answers "Finished", so the benchmark watches the index files in its data folder. A
    Milvus server seals segments and indexes them within seconds: this is the steady state
    that searches normally meet."""
    client = MilvusClient(uri=stack.url("milvus"), dedicated=True)
    try:
        physical = client.describe_alias(collection())["collection_name"]
        client.flush(physical)  # by its own name: milvus-lite skips an alias here
    finally:
        client.close()
    folder = stack.directory / "data" / "milvus" / "collections" / physical / "partitions"
    began = time.monotonic()
    while True:
        data = {p.name.removesuffix(".parquet") for p in folder.glob("*/data/*.parquet")}
        indexed = {p.name.split(".")[0] for p in folder.glob("*/indexes/*.dense.*")}
        if data and data <= indexed:
            break
        if time.monotonic() - began > timeout:
            raise SystemExit(f"milvus-lite built no dense index after {timeout:.0f} s")
        time.sleep(0.5)
    waited = time.monotonic() - began
    time.sleep(settle)
    return (
        f"flushed {physical}: {len(data)} data file(s), dense index built in {waited:.0f} s; "
        f"then waited {settle:g} s"
    )


# --- the two paths -----------------------------------------------------------------------


@dataclass
class Answer:
    """What one search returned: the chunk ids in order, and searchapi's own `took_ms`."""

    ids: list[str]
    took_ms: float | None = None


class SearchAPIPath:
    """Searches through searchapi over HTTP (keep-alive)."""

    name = "searchapi"

    def __init__(self, url: str) -> None:
        self.url = url
        self.tag = "warm-up"  # the X-Request-Id prefix, to find the requests in its log
        self.sent = itertools.count()

    def client(self) -> httpx.Client:
        """A client for one thread."""
        return httpx.Client(base_url=self.url, timeout=30)

    def search(self, client: httpx.Client, mode: str, query: str) -> Answer:
        """One search; raises unless searchapi answers 200."""
        params: dict[str, str | int] = {"q": query, "k": K, "mode": mode, "tenant": TENANT}
        headers = {"X-Request-Id": f"{self.tag}-{next(self.sent)}"}
        response = client.get("/v1/search", params=params, headers=headers)
        if response.status_code != 200:
            raise RuntimeError(f"searchapi answered {response.status_code}: {response.text[:300]}")
        body = response.json()
        return Answer([hit["chunk_id"] for hit in body["hits"]], body["took_ms"])

    @staticmethod
    def close(client: httpx.Client) -> None:
        """Close a thread's client."""
        client.close()


class DirectPath:
    """The searches searchapi makes, made here with pymilvus (embedding the query here)."""

    name = "direct"

    def __init__(self, uri: str, dim: int) -> None:
        self.uri = uri
        self.collection = collection()
        self.embedder = HashingEmbedder(dim)
        self.analyzer = analyzer("english")

    def client(self) -> MilvusClient:
        """A client with its own connection (gRPC channel) for one thread."""
        return MilvusClient(uri=self.uri, dedicated=True)

    def search(self, client: MilvusClient, mode: str, query: str) -> Answer:
        """One search, shaped as searchapi's (see searchapi/internal/milvus/store.go)."""
        if mode == "dense":
            hits = self._dense(client, query, K)
        elif mode == "text":
            hits = self._text(client, query, K)
        else:  # searchapi fuses the two searches itself (internal/search/fusion.go)
            hits = fuse(
                self._dense(client, query, CANDIDATES), self._text(client, query, CANDIDATES)
            )[:K]
        return Answer([hit["chunk_id"] for hit in hits])

    def _dense(self, client: MilvusClient, query: str, limit: int) -> list[dict[str, Any]]:
        results = client.search(
            self.collection,
            data=self.embedder.embed([query]),
            anns_field="dense",
            filter=FILTER,
            limit=limit,
            output_fields=OUTPUT_FIELDS,
        )
        # Read every hit's fields, as searchapi does when it builds its answer.
        return [{**hit["entity"], "score": hit["distance"]} for hit in results[0]]

    def _text(self, client: MilvusClient, query: str, limit: int) -> list[dict[str, Any]]:
        terms = self.analyzer.analyze(query)  # searchapi analyses the query as the index did
        if not terms:
            return []
        results = client.search(
            self.collection,
            data=[terms],
            anns_field="sparse",
            search_params={"metric_type": "BM25"},
            filter=FILTER,
            limit=limit,
            output_fields=OUTPUT_FIELDS,
        )
        return [{**hit["entity"], "score": abs(hit["distance"])} for hit in results[0]]

    @staticmethod
    def close(client: MilvusClient) -> None:
        """Close a thread's client."""
        client.close()


SearchPath = SearchAPIPath | DirectPath


# --- measuring ---------------------------------------------------------------------------


@dataclass
class Run:
    """Per-request latencies (s), wall time and CPU of one or more rounds of one path."""

    latencies: list[float] = field(default_factory=list)
    took_ms: list[float] = field(default_factory=list)
    logged_ms: list[float] = field(default_factory=list)  # searchapi's access log duration_ms
    seconds: float = 0.0
    cpu: dict[str, float] = field(default_factory=dict)
    rates: list[float] = field(default_factory=list)  # q/s of each round

    def add(self, other: Run) -> None:
        """Merge another round into this one."""
        self.latencies += other.latencies
        self.took_ms += other.took_ms
        self.seconds += other.seconds
        self.rates += other.rates
        for name, value in other.cpu.items():
            self.cpu[name] = self.cpu.get(name, 0.0) + value

    @property
    def qps(self) -> float:
        """Queries per second."""
        return len(self.latencies) / self.seconds

    def p(self, q: float) -> float:
        """The q-quantile of latency, in ms."""
        return quantile(self.latencies, q) * 1000

    def cpu_ms(self, name: str) -> float:
        """CPU milliseconds a part used per query."""
        return self.cpu.get(name, 0.0) / len(self.latencies) * 1000


def mean_interval(values: list[float]) -> tuple[float, float]:
    """The mean and the half-width of its 95% confidence interval (Student's t)."""
    mean = statistics.fmean(values)
    if len(values) < 2:
        return mean, math.inf
    t = T_95.get(len(values) - 1, 2.0)
    return mean, t * statistics.stdev(values) / math.sqrt(len(values))


def quantile(values: list[float], q: float) -> float:
    """The q-quantile by linear interpolation between closest ranks."""
    ordered = sorted(values)
    position = q * (len(ordered) - 1)
    low = int(position)
    high = min(low + 1, len(ordered) - 1)
    return ordered[low] + (ordered[high] - ordered[low]) * (position - low)


def run_round(
    stack: Stack,
    path: SearchPath,
    clients: list[Any],
    mode: str,
    queries: list[str],
    count: int,
    start: int,
) -> Run:
    """`count` searches by len(clients) threads (one client each) pulling from one sequence of
    queries (beginning at `start`); per-request latency, wall time and CPU."""
    sequence = itertools.count()
    barrier = threading.Barrier(len(clients) + 1)
    latencies: list[list[float]] = [[] for _ in clients]
    took: list[list[float]] = [[] for _ in clients]
    errors: list[BaseException] = []

    def work(n: int) -> None:
        client, mine, mine_took = clients[n], latencies[n], took[n]
        barrier.wait()
        try:
            while (i := next(sequence)) < count:
                query = queries[(start + i) % len(queries)]
                began = time.perf_counter()
                answer = path.search(client, mode, query)
                mine.append(time.perf_counter() - began)
                if answer.took_ms is not None:
                    mine_took.append(answer.took_ms)
        except BaseException as exc:  # reported after the round
            errors.append(exc)

    threads = [threading.Thread(target=work, args=(n,)) for n in range(len(clients))]
    for thread in threads:
        thread.start()
    before = cpu_snapshot(stack)
    began = time.perf_counter()
    barrier.wait()
    for thread in threads:
        thread.join()
    seconds = time.perf_counter() - began
    after = cpu_snapshot(stack)
    if errors:
        raise SystemExit(f"{path.name} {mode}: {errors[0]!r}")
    cpu = {name: after[name] - before[name] for name in before}
    return Run(
        latencies=[x for xs in latencies for x in xs],
        took_ms=[x for xs in took for x in xs],
        seconds=seconds,
        cpu=cpu,
        rates=[count / seconds],
    )


def run_one(path: SearchPath, client: Any, mode: str, query: str) -> Run:
    """One search, timed."""
    began = time.perf_counter()
    answer = path.search(client, mode, query)
    seconds = time.perf_counter() - began
    took = [answer.took_ms] if answer.took_ms is not None else []
    return Run(latencies=[seconds], took_ms=took, seconds=seconds)


def measure(
    stack: Stack,
    paths: dict[str, SearchPath],
    clients: dict[str, list[Any]],
    mode: str,
    queries: list[str],
    total: int,
    rounds: int,
) -> dict[str, Run]:
    """`total` searches per path, both paths on the same queries in the same order, alternated
    ABBA-wise (direct, searchapi, searchapi, direct, ...): request by request with one client,
    in `rounds` rounds with several."""
    runs = {name: Run() for name in paths}
    api = paths["searchapi"]
    assert isinstance(api, SearchAPIPath)
    api.tag = f"{mode}-c{len(clients['searchapi'])}"
    if len(clients["searchapi"]) == 1:
        before = cpu_snapshot(stack)
        for i in range(total):
            for name in PATHS if i % 2 == 0 else PATHS[::-1]:
                runs[name].add(
                    run_one(paths[name], clients[name][0], mode, queries[i % len(queries)])
                )
        after = cpu_snapshot(stack)
        for run in runs.values():  # not separable by path: each is charged half
            run.cpu = {name: (after[name] - before[name]) / 2 for name in before}
        return runs
    per_round = [total // rounds + (1 if r < total % rounds else 0) for r in range(rounds)]
    start = 0
    for r, count in enumerate(per_round):
        order = PATHS if r % 2 == 0 else PATHS[::-1]
        for name in order:
            runs[name].add(
                run_round(stack, paths[name], clients[name], mode, queries, count, start)
            )
        start += count
    return runs


def compare_answers(
    paths: dict[str, SearchPath], clients: dict[str, list[Any]], queries: list[str]
) -> dict[str, tuple[float, int, float]]:
    """Per mode: the mean overlap of both paths' top-k ids, the queries without hits, and the
    Python embedder's mean time per query (ms)."""
    found: dict[str, tuple[float, int, float]] = {}
    direct = paths["direct"]
    assert isinstance(direct, DirectPath)
    embed_ms = 0.0
    for query in queries:
        began = time.perf_counter()
        direct.embedder.embed([query])
        embed_ms += (time.perf_counter() - began) * 1000
    embed_ms /= len(queries)
    api = paths["searchapi"]
    assert isinstance(api, SearchAPIPath)
    api.tag = "check"
    for mode in MODES:
        overlap, empty = 0.0, 0
        for query in queries:
            a = paths["direct"].search(clients["direct"][0], mode, query).ids
            b = paths["searchapi"].search(clients["searchapi"][0], mode, query).ids
            overlap += len(set(a) & set(b)) / max(len(a), len(b), 1)
            empty += not b
        found[mode] = (overlap / len(queries), empty, 0.0 if mode == "text" else embed_ms)
    return found


def http_floor(client: httpx.Client, count: int = 300) -> float:
    """p50 ms of `GET /healthz` with the benchmark's HTTP client: the least an HTTP request
    costs here (httpx in Python, loopback, Gin), with no search at all."""
    latencies = []
    for _ in range(count):
        began = time.perf_counter()
        client.get("/healthz").raise_for_status()
        latencies.append(time.perf_counter() - began)
    return quantile(latencies, 0.5) * 1000


def warm_up(
    paths: dict[str, SearchPath], clients: dict[str, list[Any]], queries: list[str], seconds: float
) -> int:
    """Search with every client of both paths, every mode, for about `seconds`; how many."""
    deadline = time.monotonic() + seconds
    done = n = 0
    while time.monotonic() < deadline or n < max(len(c) for c in clients.values()):
        for name, path in paths.items():
            client = clients[name][n % len(clients[name])]
            for mode in MODES:
                path.search(client, mode, queries[n % len(queries)])
                done += 1
        n += 1
    return done


def access_log(stack: Stack) -> dict[str, list[float]]:
    """searchapi's logged duration_ms of each search, by X-Request-Id tag (`dense-c16`...)."""
    durations: dict[str, list[float]] = {}
    for line in stack.log_path("searchapi").read_text(errors="replace").splitlines():
        try:
            entry = json.loads(line)
        except ValueError:
            continue
        if entry.get("route") == "/v1/search" and "duration_ms" in entry:
            tag = entry.get("request_id", "").rsplit("-", 1)[0]
            durations.setdefault(tag, []).append(float(entry["duration_ms"]))
    return durations


# --- report ------------------------------------------------------------------------------


def print_mode(mode: str, results: dict[int, dict[str, Run]], embed_ms: float) -> None:
    """One mode's table, added latency, throughput ratio, CPU per query and verdict."""
    levels = sorted(results)
    top = levels[-1]
    print(f"\n{mode.upper():<24}" + "".join(f"{f'{c} client(s)':>27}" for c in levels))
    print(f"{'':<24}" + "".join(f"{'p50 ms':>9}{'p99 ms':>9}{'q/s':>9}" for _ in levels))

    def row(label: str, cell: Callable[[Run], str], name: str = "searchapi") -> None:
        print(f"{label:<24}" + "".join(cell(results[c][name]) for c in levels))

    def cell(values: list[float], qps: float | None = None) -> str:
        if not values:
            return f"{'-':>9}{'-':>9}{'':>9}"
        rate = f"{qps:>9.0f}" if qps is not None else f"{'':>9}"
        return f"{quantile(values, 0.5):>9.2f}{quantile(values, 0.99):>9.2f}{rate}"

    row("direct (pymilvus)", lambda r: cell([x * 1000 for x in r.latencies], r.qps), "direct")
    row("searchapi (HTTP)", lambda r: cell([x * 1000 for x in r.latencies], r.qps))
    row("  its access log", lambda r: cell(r.logged_ms))
    row("  its took_ms", lambda r: cell(r.took_ms))
    added = {c: results[c]["searchapi"].p(0.5) - results[c]["direct"].p(0.5) for c in levels}
    print(f"{'added at p50 (ms)':<24}" + "".join(f"{added[c]:>+9.2f}{'':>18}" for c in levels))
    one = results[levels[0]]
    api, direct = one["searchapi"].latencies, one["direct"].latencies
    pairs = [(a - d) * 1000 for a, d in zip(api, direct, strict=True)]
    print(
        f"median of {len(pairs)} paired differences at {levels[0]} client (same query, back to "
        f"back): {quantile(pairs, 0.5):+.2f} ms"
    )
    ratio = round(results[top]["searchapi"].qps / results[top]["direct"].qps, 2)  # as printed
    per_round = [
        a / d
        for a, d in zip(results[top]["searchapi"].rates, results[top]["direct"].rates, strict=True)
    ]
    mean, half = mean_interval(per_round)
    print(
        f"throughput searchapi/direct at {top} clients: {ratio:.0%} (paired rounds: "
        f"{mean:.0%} ± {half:.0%} 95% CI, {min(per_round):.0%} to {max(per_round):.0%})"
    )
    for name in PATHS:
        run = results[top][name]
        parts = [f"milvus {run.cpu_ms('milvus'):.2f}"]
        if name == "searchapi":
            parts.append(f"searchapi {run.cpu_ms('searchapi'):.2f}")
        parts.append(f"bench clients {run.cpu_ms('client'):.2f}")
        print(f"CPU ms per query at {top} clients, {name}: " + ", ".join(parts))
    if embed_ms:
        print(f"(direct includes embedding the query in Python: {embed_ms:.2f} ms a query)")
    latency = "MET" if added[levels[0]] < ADDED_TARGET_MS else "NOT MET"
    if ratio >= THROUGHPUT_TARGET:
        throughput = "MET"
    elif mean + half >= THROUGHPUT_TARGET:
        throughput = "within noise (its 95% CI reaches 100%)"
    else:
        throughput = "NOT MET (beyond noise)"
    print(
        f"verdict {mode}: added at p50, {levels[0]} client: {added[levels[0]]:+.2f} ms -> "
        f"'under {ADDED_TARGET_MS:g} ms': {latency}\n"
        f"verdict {mode}: throughput at {top} clients: {ratio:.0%} -> 'no loss': {throughput}"
    )


def print_method(args: argparse.Namespace, queries: int, rows: int) -> None:
    """How the figures were made."""
    print(
        f"""
{queries} distinct queries, k={K}, tenant {TENANT!r}, {rows} chunks in Milvus.
Fairness: both paths make the same searches in the same order, alternated ABBA-wise (direct,
searchapi, searchapi, direct, ...) so that a slow spell of this shared 2-CPU machine hits both
alike: request by request at 1 client (q/s = 1 / mean latency), in {args.rounds} rounds at 16
(q/s = requests / summed wall time of the rounds). Clients are threads of this one Python
process, each with its own client: an httpx.Client with keep-alive, or a dedicated
MilvusClient (its own gRPC channel). p50/p99 are over all requests of a cell.
The throughput ratio's 95% CI comes from the ratios of the paired rounds (one round of each
path, back to back).
"its access log": searchapi's logged duration_ms (handler, middleware, JSON encoding);
"its took_ms": the search alone (embedding and the Milvus call), as searchapi reports it."""
    )


def print_disturbance(
    runs: list[Run],
    wall: float,
    before: dict[int, tuple[str, float]],
    after: dict[int, tuple[str, float]],
) -> None:
    """How busy processes outside the stack and this benchmark kept the machine, and which."""
    seconds = sum(r.seconds for r in runs)
    other = sum(r.cpu["machine"] - r.cpu["stack"] - r.cpu["client"] for r in runs) / seconds
    other = max(other, 0.0)  # the counters tick at different moments
    interrupts = sum(r.cpu["interrupts"] for r in runs) / seconds
    print(
        f"\nmeasured for {seconds:.0f} s ({wall:.0f} s in all); meanwhile other processes used "
        f"{other:.0%} of a CPU\n(of {os.cpu_count()}), interrupts and steal {interrupts:.0%} "
        f"(loopback traffic counts there); load now {load_average()}"
    )
    used = sorted(
        ((cpu - before.get(pid, ("", 0.0))[1], command) for pid, (command, cpu) in after.items()),
        reverse=True,
    )
    busiest = ", ".join(f"{command} {cpu:.0f} s" for cpu, command in used[:3] if cpu >= 1)
    if busiest:
        print(f"busiest other processes (CPU s while measuring): {busiest}")
    if other > 0.15:
        print("  -> something else was busy: the figures may be disturbed; consider a rerun")


def parse_args() -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--chunks", type=int, default=10_000, help="chunks to load (10000)")
    parser.add_argument("--queries", type=int, default=50, help="distinct queries (50)")
    parser.add_argument("--seed", type=int, default=11, help="seed of documents and queries")
    parser.add_argument(
        "--requests-1", type=int, default=300, help="searches per path at 1 client (300)"
    )
    parser.add_argument(
        "--requests-16", type=int, default=800, help="searches per path at 16 clients (800)"
    )
    parser.add_argument(
        "--rounds", type=int, default=8, help="alternating rounds of a 16-client cell (8)"
    )
    parser.add_argument("--warm-up", type=float, default=5, help="seconds of warm-up (5)")
    parser.add_argument(
        "--settle", type=float, default=5, help="seconds to wait after the flush (5)"
    )
    parser.add_argument(
        "--no-flush",
        action="store_true",
        help="do not flush Milvus after loading (milvus-lite then searches its memtable)",
    )
    parser.add_argument(
        "--timeout", type=float, default=600, help="seconds to wait for the indexing (600)"
    )
    parser.add_argument(
        "--keep-dir", action="store_true", help="keep the stack's temporary folder (logs)"
    )
    args = parser.parse_args()
    if min(args.chunks, args.queries, args.requests_1, args.requests_16, args.rounds) < 1:
        parser.error("--chunks, --queries, --requests-* and --rounds must be at least 1")
    return args


def main() -> None:
    """Load one private stack, measure both paths for every mode, print the comparison."""
    args = parse_args()
    os.environ.setdefault("SLUICE_CONF_DIR", str(ROOT / "conf"))
    started = time.monotonic()
    documents, chunks = make_documents(args.chunks, args.seed)
    queries = make_queries(args.queries, args.seed)
    levels = {1: args.requests_1, 16: args.requests_16}
    say(f"load before: {load_average()} on {os.cpu_count()} CPUs")
    say(f"{len(documents)} documents -> {chunks} chunks; starting the stack")
    # The direct path embeds with the Python hashing embedder: so must the stack and searchapi.
    with running_stack(args.keep_dir, "hashing") as stack:
        say(f"loading through ingest in batches of {POST_BATCH}, waiting until all are indexed")
        loaded = time.monotonic()
        rows = load(stack, documents, chunks, args.timeout)
        say(f"Milvus holds {rows} chunks of tenant {TENANT!r} ({time.monotonic() - loaded:.0f} s)")
        if args.no_flush:
            say("not flushing: rows stay in milvus-lite's memtable (brute-force search)")
        else:
            say(flush(stack, args.settle, args.timeout))
        dim = load_settings(TransformConfig).embedder.dim
        paths: dict[str, SearchPath] = {
            "direct": DirectPath(stack.url("milvus"), dim),
            "searchapi": SearchAPIPath(stack.url("searchapi")),
        }
        clients = {
            name: [path.client() for _ in range(max(levels))] for name, path in paths.items()
        }
        try:
            done = warm_up(paths, clients, queries, args.warm_up)
            say(f"warmed up with {done} searches")
            floor = http_floor(clients["searchapi"][0])
            agreement = compare_answers(paths, clients, queries)
            for mode, (overlap, empty, _) in agreement.items():
                say(
                    f"  {mode}: top-{K} of both paths agree {overlap:.0%}; "
                    f"{empty} of {len(queries)} queries without hits"
                )
            results: dict[str, dict[int, dict[str, Run]]] = {}
            groups = {pid for pid in stack.status().values() if pid}
            others_before = process_cpu(groups)
            for mode in MODES:
                for c, total in levels.items():
                    say(f"measuring {mode} at {c} client(s): {total} searches per path")
                    results.setdefault(mode, {})[c] = measure(
                        stack,
                        paths,
                        {name: pool[:c] for name, pool in clients.items()},
                        mode,
                        queries,
                        total,
                        args.rounds,
                    )
            others_after = process_cpu(groups)
        finally:
            for name, pool in clients.items():
                for client in pool:
                    paths[name].close(client)
        logged = access_log(stack)
        for mode in MODES:
            for c, per in results[mode].items():
                per["searchapi"].logged_ms = logged.get(f"{mode}-c{c}", [])
        print_method(args, len(queries), rows)
        print(
            f"HTTP floor: GET /healthz with the same httpx client, p50 {floor:.2f} ms (part of "
            f"searchapi's\nadded latency is this client's own cost per request)."
        )
        for mode in MODES:
            print_mode(mode, results[mode], agreement[mode][2])
        runs = [run for mode in MODES for per in results[mode].values() for run in per.values()]
        print_disturbance(runs, time.monotonic() - started, others_before, others_after)


if __name__ == "__main__":
    main()
