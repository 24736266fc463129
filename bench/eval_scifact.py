"""Search quality on SciFact (BEIR), end to end: nDCG@10 and Recall@100 of every search mode.

Runs a local stack (Redis, milvus-lite, the functions, the RQ workers and searchapi, with the
embedder `--embedder`, default all-MiniLM-L6-v2) on free ports, in a persistent folder
(default `.sluice/eval-<embedder>`), and stops it at the end unless `--keep-running`. Then:

1. index: posts the corpus to ingest (batches of 100 `{"id", "title", "text", "tenant"}`)
   and waits until every document is `indexed` (polling the records in Redis). Time runs from
   the first POST to the latest `indexed_at`. Documents the folder already holds answer
   `unchanged` and are not timed again, so re-evaluating with other queries is quick.
2. search: every judged query of the query file, in each mode (hybrid, dense, text), through
   searchapi (`GET /v1/search`, k=100, 4 threads). Documents are ranked by their best chunk
   (the first time a document appears among the hits); pages of 100 hits (`offset`) are
   fetched until 100 distinct documents, no more hits, or the offset limit (1000).
3. report: per mode, nDCG@10 and Recall@100 (binary relevance from the qrels, averaged over
   the evaluated queries) and the mean latency of the first page and of a whole query.

`--limit-docs N` indexes a slice instead: every document judged relevant for the first
`--judged-queries` queries, plus a seeded random sample of the others up to N documents; only
the queries whose relevant documents are all in the slice are evaluated. Each slice has its
own tenant, so slices never see each other's documents.

The data (CC BY-NC, not part of the repository) is read from `../shared/data/scifact/`
beside the repository.

    uv run --frozen python bench/eval_scifact.py                     # full corpus, MiniLM
    uv run --frozen python bench/eval_scifact.py --embedder hashing --limit-docs 300
    make eval QUERIES=... QRELS=...
"""

from __future__ import annotations

import argparse
import contextlib
import dataclasses
import json
import math
import os
import random
import shutil
import statistics
import sys
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime
from pathlib import Path
from typing import Any

import httpx
from pymilvus import MilvusClient
from redis import Redis
from rq import Worker

from sluice.settings import IndexConfig, QueuesConfig, load_settings

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (`python bench/...`): make `dev` importable
    sys.path.insert(0, str(ROOT))

from bench.common import DEFAULT_MODEL, EMBEDDERS, post_documents, say, wait_indexed  # noqa: E402
from dev.stack import Stack  # noqa: E402

DATA_DIR = ROOT.parent / "shared" / "data" / "scifact"
MODES = ("hybrid", "dense", "text")
# The comparison row: hybrid with the fusion that was the default before it was tuned (Milvus's
# RRF ranker, k 60, equal weights), on the same index. The previous text analysis (none) needs
# another index: its figures are in BASELINE.
PREVIOUS_HYBRID = "hybrid-previous"
PREVIOUS_FUSION = {"method": "rrf", "k": 60, "weights": {"dense": 1, "text": 1}}  # explicit
EVAL_MODES = (*MODES, PREVIOUS_HYBRID)
# The full corpus's figures (train split) before search ranking was tuned (no stemming, RRF
# k 60): `make eval` at commit 800773b, 2026-12-03 (docs/search-quality.md).
BASELINE = {
    "all-MiniLM-L6-v2": {
        "hybrid": (0.7021, 0.9499),
        "dense": (0.6781, 0.9281),
        "text": (0.6583, 0.8985),
    },
}
TENANT = "scifact"
WARM_UP_TENANT = "eval-warm-up"
POST_BATCH = 100
PAGE = 100  # searchapi's max k
MAX_OFFSET = 1000  # searchapi's max offset
NDCG_AT = 10
RECALL_AT = 100
RANK_DEPTH = max(NDCG_AT, RECALL_AT)  # distinct documents wanted per query
THREADS = 4


# --- data --------------------------------------------------------------------------------


@dataclass
class Dataset:
    """A BEIR dataset: the corpus (id -> title, text), queries (id -> text, in file order)
    and binary relevance judgements (query id -> relevant document ids)."""

    corpus: dict[str, tuple[str, str]]
    queries: dict[str, str]
    qrels: dict[str, set[str]]


def load_dataset(data_dir: Path, queries: Path | None = None, qrels: Path | None = None) -> Dataset:
    """Read corpus.jsonl, the queries (default queries.train.jsonl) and the qrels (default
    qrels/train.tsv) of a BEIR folder."""
    queries = queries or data_dir / "queries.train.jsonl"
    qrels = qrels or data_dir / "qrels" / "train.tsv"
    for path in (data_dir / "corpus.jsonl", queries, qrels):
        if not path.is_file():
            raise SystemExit(f"{path} not found (SciFact is read from {DATA_DIR}; see --help)")
    corpus: dict[str, tuple[str, str]] = {}
    for row in _jsonl(data_dir / "corpus.jsonl"):
        corpus[str(row["_id"])] = (row.get("title") or "", row.get("text") or "")
    return Dataset(corpus, {str(r["_id"]): r["text"] for r in _jsonl(queries)}, load_qrels(qrels))


def _jsonl(path: Path) -> Iterator[dict[str, Any]]:
    with path.open(encoding="utf-8") as lines:
        for line in lines:
            if line.strip():
                yield json.loads(line)


def load_qrels(path: Path) -> dict[str, set[str]]:
    """BEIR qrels (TSV `query-id corpus-id score`, with a header): the documents of score > 0
    of each query."""
    qrels: dict[str, set[str]] = {}
    with path.open(encoding="utf-8") as lines:
        for number, line in enumerate(lines):
            parts = line.split()
            if not parts or (number == 0 and parts[0] == "query-id"):
                continue
            query, document, score = parts[0], parts[1], parts[2]
            if float(score) > 0:
                qrels.setdefault(query, set()).add(document)
    return qrels


def select_slice(
    dataset: Dataset, limit_docs: int, seed: int, judged_queries: int | None = None
) -> tuple[list[str], list[str]]:
    """A slice of the corpus and the queries it can answer: the documents judged relevant
    for the first `judged_queries` judged queries (default: a third of `limit_docs`), plus a
    seeded random sample of the others up to `limit_docs`; then every query whose relevant
    documents are all in the slice. Returns (document ids, query ids), in file order."""
    wanted = judged_queries if judged_queries is not None else max(1, limit_docs // 3)
    chosen: set[str] = set()
    taken = 0
    for query in dataset.queries:
        relevant = dataset.qrels.get(query, set()) & dataset.corpus.keys()
        if not relevant or taken >= wanted:
            continue
        if len(chosen | relevant) > limit_docs:
            break
        chosen |= relevant
        taken += 1
    others = sorted(dataset.corpus.keys() - chosen)
    chosen |= set(random.Random(seed).sample(others, min(len(others), limit_docs - len(chosen))))
    documents = [d for d in dataset.corpus if d in chosen]
    return documents, judged(dataset, documents)


def judged(dataset: Dataset, documents: Iterable[str]) -> list[str]:
    """The queries, in file order, that have judgements all about the given documents."""
    present = set(documents)
    return [q for q in dataset.queries if dataset.qrels.get(q) and dataset.qrels[q] <= present]


def slice_tenant(limit_docs: int | None, seed: int, judged_queries: int | None) -> str:
    """The tenant the documents go to: `scifact` for the corpus, one per slice."""
    if limit_docs is None:
        return TENANT
    return f"{TENANT}-n{limit_docs}-s{seed}" + (f"-q{judged_queries}" if judged_queries else "")


def documents_json(dataset: Dataset, ids: Sequence[str], tenant: str) -> list[dict[str, Any]]:
    """The documents as ingest takes them (title and text: BEIR embeds them together)."""
    return [
        {"id": i, "title": dataset.corpus[i][0], "text": dataset.corpus[i][1], "tenant": tenant}
        for i in ids
    ]


# --- metrics -----------------------------------------------------------------------------


def ndcg_at(ranking: Sequence[str], relevant: set[str], k: int = NDCG_AT) -> float:
    """nDCG@k with binary gains: sum of 1/log2(rank + 1) over the relevant documents in the
    top k (rank from 1), divided by the same sum for an ideal ranking."""
    if not relevant:
        return 0.0
    dcg = sum(1 / math.log2(rank + 2) for rank, d in enumerate(ranking[:k]) if d in relevant)
    ideal = sum(1 / math.log2(rank + 2) for rank in range(min(k, len(relevant))))
    return dcg / ideal


def recall_at(ranking: Sequence[str], relevant: set[str], k: int = RECALL_AT) -> float:
    """The share of the relevant documents found in the top k."""
    if not relevant:
        return 0.0
    return len(relevant.intersection(ranking[:k])) / len(relevant)


def documents_by_best_chunk(hits: Iterable[dict[str, Any]]) -> list[str]:
    """Document ids in the order of their best (first) chunk among the hits."""
    return list(dict.fromkeys(hit["document_id"] for hit in hits))


def score(rankings: dict[str, list[str]], qrels: dict[str, set[str]]) -> dict[str, float]:
    """Mean nDCG@10 and Recall@100 over the queries of `rankings`."""
    queries = list(rankings)
    if not queries:
        return {"ndcg@10": 0.0, "recall@100": 0.0}
    return {
        "ndcg@10": statistics.fmean(ndcg_at(rankings[q], qrels[q]) for q in queries),
        "recall@100": statistics.fmean(recall_at(rankings[q], qrels[q]) for q in queries),
    }


# --- the stack ---------------------------------------------------------------------------


def make_stack(
    directory: Path,
    embedder: str = "hashing",
    extra_env: dict[str, str] | None = None,
    transform_workers: int = 0,
) -> Stack:
    """A `Stack` in the folder with the given embedder, on the ports it last ran on (see
    `Stack.of`), or on free ones if it does not run."""
    stack = Stack.of(
        directory,
        transform_workers=transform_workers,
        extra_env=dict(extra_env or {}),
        embedder=embedder,
    )
    return stack if any(stack.status().values()) else stack.on_free_ports()


@contextlib.contextmanager
def persistent_stack(
    directory: Path,
    embedder: str,
    extra_env: dict[str, str],
    transform_workers: int,
    keep_running: bool,
) -> Iterator[Stack]:
    """The stack of a persistent folder: started on free ports (or found running), stopped at
    the end unless `keep_running`."""
    directory.mkdir(parents=True, exist_ok=True)
    stack = make_stack(directory, embedder, extra_env, transform_workers)
    try:
        stack.up()
        yield stack
    finally:
        if keep_running:
            say(
                f"\nthe stack keeps running in {directory} (stop: python -m dev.stack down "
                f"--dir {directory}); searchapi at {stack.url('searchapi')}"
            )
        else:
            stack.down()


def key_prefix(stack: Stack) -> str:
    """The Redis key prefix of the stack's records."""
    os.environ.setdefault("SLUICE_CONF_DIR", str(ROOT / "conf"))
    return (
        stack.extra_env.get("SLUICE_REDIS__KEY_PREFIX")
        or load_settings(QueuesConfig).redis.key_prefix
    )


def collection_alias(stack: Stack) -> str:
    """The alias searchapi searches (milvus.collection)."""
    os.environ.setdefault("SLUICE_CONF_DIR", str(ROOT / "conf"))
    return (
        stack.extra_env.get("SLUICE_MILVUS__COLLECTION")
        or load_settings(IndexConfig).milvus.collection
    )


# --- indexing ----------------------------------------------------------------------------


@dataclass
class IndexReport:
    """What indexing did: documents in the index, those accepted (and so timed) this run,
    their chunks and the seconds from the first POST to the last `indexed_at`."""

    documents: int
    accepted: int
    chunks: int
    accepted_chunks: int
    seconds: float

    @property
    def docs_per_s(self) -> float:
        return self.accepted / self.seconds if self.seconds else 0.0

    @property
    def chunks_per_s(self) -> float:
        return self.accepted_chunks / self.seconds if self.seconds else 0.0


def warm_up(stack: Stack, redis: Redis, timeout: float = 120.0) -> None:
    """Wait until every RQ worker has registered, then push one document of another tenant
    through, so that no start-up cost is timed."""
    workers = stack.transform_workers + 1
    deadline = time.monotonic() + timeout
    while Worker.count(connection=redis) < workers:
        if time.monotonic() > deadline:
            raise SystemExit(f"fewer than {workers} RQ workers registered after {timeout:.0f} s")
        time.sleep(0.2)
    text = "A warm-up document for the SciFact evaluation. " * 40
    document = {"id": "warm-up", "tenant": WARM_UP_TENANT, "title": "Warm-up", "text": text}
    post_documents(stack.url("ingest"), [document], POST_BATCH)
    wait_indexed(redis, [f"{key_prefix(stack)}:doc:{WARM_UP_TENANT}:warm-up"], timeout)


def index_documents(
    stack: Stack,
    documents: list[dict[str, Any]],
    timeout: float = 3600.0,
    progress: bool = True,
) -> IndexReport:
    """Ingest the documents (all of one tenant) through the stack and wait until they are all
    indexed and searchable; what it took."""
    tenant = documents[0]["tenant"]
    prefix = key_prefix(stack)
    keys = [f"{prefix}:doc:{tenant}:{d['id']}" for d in documents]
    redis = Redis.from_url(stack.url("redis"))
    try:
        warm_up(stack, redis)
        started = time.time()
        accepted = post_documents(stack.url("ingest"), documents, POST_BATCH)
        if progress:
            say(
                f"posted {len(documents)} documents: {len(accepted)} accepted, "
                f"{len(documents) - len(accepted)} unchanged"
            )

        def show(done: int, total: int) -> None:
            elapsed = time.time() - started
            say(f"  indexed {done}/{total} documents, {elapsed:.0f} s")

        wait_indexed(redis, keys, timeout, show if progress else None)
        with redis.pipeline(transaction=False) as pipe:
            for key in keys:
                pipe.hmget(key, "chunks", "indexed_at")
            rows = pipe.execute()
    finally:
        redis.close()
    chunks = sum(int(row[0]) for row in rows)
    timed = [row for d, row in zip(documents, rows, strict=True) if d["id"] in accepted]
    seconds = 0.0
    if timed:
        last = max(datetime.fromisoformat(row[1].decode()).timestamp() for row in timed)
        seconds = last - started
    searchable(stack, tenant, chunks, flush=bool(accepted))
    return IndexReport(
        len(documents), len(accepted), chunks, sum(int(row[0]) for row in timed), seconds
    )


def searchable(stack: Stack, tenant: str, chunks: int, flush: bool, timeout: float = 60) -> None:
    """Wait until Milvus counts the tenant's `chunks` rows (reads may lag writes); flush the
    collection if asked, so that searches meet the steady state (indexed segments) that a
    restarted stack also meets."""
    client = MilvusClient(uri=stack.url("milvus"), dedicated=True)
    alias = collection_alias(stack)
    try:
        deadline = time.monotonic() + timeout
        while True:
            rows = client.query(alias, filter=f'tenant == "{tenant}"', output_fields=["count(*)"])
            count = int(rows[0]["count(*)"])
            if count == chunks:
                break
            if time.monotonic() > deadline:
                raise SystemExit(f"Milvus holds {count} rows of {tenant!r}, the records {chunks}")
            time.sleep(0.5)
        if flush:
            client.flush(client.describe_alias(alias)["collection_name"])
    finally:
        client.close()


# --- searching ---------------------------------------------------------------------------


@dataclass
class ModeResult:
    """One mode's quality and latency."""

    mode: str
    queries: int
    ndcg: float
    recall: float
    first_page_ms: float
    query_ms: float
    pages: float
    rankings: dict[str, list[str]] = field(default_factory=dict, repr=False)

    def to_json(self) -> dict[str, Any]:
        return {
            "queries": self.queries,
            "ndcg@10": round(self.ndcg, 4),
            "recall@100": round(self.recall, 4),
            "first_page_ms": round(self.first_page_ms, 2),
            "query_ms": round(self.query_ms, 2),
            "pages": round(self.pages, 2),
        }


def search_page(
    client: httpx.Client,
    query: str,
    mode: str,
    tenant: str,
    offset: int,
    fusion: dict[str, Any] | None = None,
) -> tuple[list[dict[str, Any]], float]:
    """One page of hits and its latency in ms; retried a few times on 503."""
    body: dict[str, Any] = {
        "query": query,
        "k": PAGE,
        "mode": mode,
        "tenant": tenant,
        "offset": offset,
    }
    if fusion is not None:
        body["fusion"] = fusion
    for attempt in range(5):
        started = time.perf_counter()
        response = client.post("/v1/search", json=body)
        elapsed = (time.perf_counter() - started) * 1000
        if response.status_code == 200:
            return response.json()["hits"], elapsed
        if response.status_code != 503 or attempt == 4:
            raise SystemExit(
                f"searchapi answered {response.status_code} to {mode} {query!r} "
                f"offset {offset}: {response.text[:300]}"
            )
        time.sleep(0.5 * (attempt + 1))
    raise AssertionError("unreachable")


def rank_query(
    client: httpx.Client,
    query: str,
    mode: str,
    tenant: str,
    depth: int = RANK_DEPTH,
    fusion: dict[str, Any] | None = None,
) -> tuple[list[str], list[float]]:
    """The documents of a query, best chunk first, up to `depth` of them: pages of k=100
    until enough, no more hits, or the offset limit; and each page's latency (ms)."""
    ranking: dict[str, None] = {}
    latencies: list[float] = []
    offset = 0
    while offset <= MAX_OFFSET:
        hits, elapsed = search_page(client, query, mode, tenant, offset, fusion)
        latencies.append(elapsed)
        ranking.update(dict.fromkeys(documents_by_best_chunk(hits)))
        if len(ranking) >= depth or len(hits) < PAGE:
            break
        offset += PAGE
    return list(ranking)[:depth], latencies


def run_mode(
    url: str,
    queries: dict[str, str],
    qrels: dict[str, set[str]],
    mode: str,
    tenant: str,
    threads: int = THREADS,
    fusion: dict[str, Any] | None = None,
    label: str = "",
) -> ModeResult:
    """Every query through searchapi in one mode (`threads` at a time; a hybrid search with
    the given fusion); the scores, labelled `label` (default: the mode)."""
    local = threading.local()
    clients: list[httpx.Client] = []
    lock = threading.Lock()

    def one(query_id: str) -> tuple[str, list[str], list[float]]:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, timeout=60)
            with lock:
                clients.append(client)
        ranking, latencies = rank_query(client, queries[query_id], mode, tenant, fusion=fusion)
        return query_id, ranking, latencies

    try:
        with ThreadPoolExecutor(threads) as pool:
            results = list(pool.map(one, queries))
    finally:
        for client in clients:
            client.close()
    rankings = {q: ranking for q, ranking, _ in results}
    metrics = score(rankings, qrels)
    return ModeResult(
        label or mode,
        len(results),
        metrics["ndcg@10"],
        metrics["recall@100"],
        statistics.fmean(lat[0] for _, _, lat in results) if results else 0.0,
        statistics.fmean(sum(lat) for _, _, lat in results) if results else 0.0,
        statistics.fmean(len(lat) for _, _, lat in results) if results else 0.0,
        rankings,
    )


def evaluate(
    stack: Stack,
    dataset: Dataset,
    query_ids: Sequence[str],
    tenant: str,
    modes: Sequence[str] = MODES,
    threads: int = THREADS,
    progress: bool = True,
) -> dict[str, ModeResult]:
    """Every given query in every mode through the stack's searchapi; the results by mode."""
    queries = {q: dataset.queries[q] for q in query_ids}
    results: dict[str, ModeResult] = {}
    for mode in modes:
        started = time.monotonic()
        previous = mode == PREVIOUS_HYBRID
        results[mode] = run_mode(
            stack.url("searchapi"),
            queries,
            dataset.qrels,
            "hybrid" if previous else mode,
            tenant,
            threads,
            fusion=PREVIOUS_FUSION if previous else None,
            label=mode,
        )
        if progress:
            r = results[mode]
            say(
                f"  {mode:<7} {r.queries} queries in {time.monotonic() - started:.1f} s: "
                f"nDCG@10 {r.ndcg:.4f}, Recall@100 {r.recall:.4f}"
            )
    return results


# --- report ------------------------------------------------------------------------------


def print_report(
    embedder: str,
    index: IndexReport,
    results: dict[str, ModeResult],
    threads: int,
    full_corpus: bool = False,
) -> None:
    """The indexing figures and the quality table."""
    print(
        f"\nindexing ({embedder}): {index.documents} documents, {index.chunks} chunks in the index"
    )
    if index.accepted:
        print(
            f"  {index.accepted} documents ({index.accepted_chunks} chunks) indexed in "
            f"{index.seconds:.1f} s: {index.docs_per_s:.1f} docs/s, "
            f"{index.chunks_per_s:.1f} chunks/s"
        )
    else:
        print("  already indexed (every document answered `unchanged`): not timed")
    print(
        f"\n{'mode':<16}{'queries':>8}{'nDCG@10':>9}{'R@100':>8}{'page ms':>9}{'query ms':>10}"
        f"{'pages':>7}"
    )
    for r in results.values():
        print(
            f"{r.mode:<16}{r.queries:>8}{r.ndcg:>9.4f}{r.recall:>8.4f}{r.first_page_ms:>9.1f}"
            f"{r.query_ms:>10.1f}{r.pages:>7.2f}"
        )
    baseline = BASELINE.get(embedder) if full_corpus else None
    for mode, (ndcg, recall) in (baseline or {}).items():
        if mode in results:
            change = results[mode].ndcg - ndcg
            print(
                f"{mode + ' (before)':<16}{'':>8}{ndcg:>9.4f}{recall:>8.4f}"
                f"   nDCG@10 {change:+.4f} now"
            )
    if baseline:
        print("(before: the previous defaults' figures, no stemming, RRF k 60)")
    print(
        f"(latency: mean of the first k={PAGE} page, and of all pages of a query; "
        f"{threads} client threads)"
    )


def report_json(
    embedder: str, tenant: str, index: IndexReport, results: dict[str, ModeResult]
) -> str:
    """The figures as one JSON line."""
    return json.dumps(
        {
            "embedder": embedder,
            "tenant": tenant,
            "index": {
                **dataclasses.asdict(index),
                "docs_per_s": round(index.docs_per_s, 2),
                "chunks_per_s": round(index.chunks_per_s, 2),
            },
            "modes": {mode: r.to_json() for mode, r in results.items()},
        }
    )


def parse_env(values: list[str]) -> dict[str, str]:
    """`KEY=VALUE` options as a dict."""
    env = {}
    for value in values:
        key, sep, setting = value.partition("=")
        if not sep or not key:
            raise SystemExit(f"--env wants KEY=VALUE, not {value!r}")
        env[key] = setting
    return env


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    """Command-line options."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument(
        "--data-dir", type=Path, default=DATA_DIR, help=f"the BEIR folder (default {DATA_DIR})"
    )
    parser.add_argument(
        "--queries", type=Path, help="queries JSONL (default <data-dir>/queries.train.jsonl)"
    )
    parser.add_argument("--qrels", type=Path, help="qrels TSV (default <data-dir>/qrels/train.tsv)")
    parser.add_argument("--embedder", choices=EMBEDDERS, default=DEFAULT_MODEL)
    parser.add_argument(
        "--limit-docs", type=int, help="index a slice of this many documents (see above)"
    )
    parser.add_argument(
        "--judged-queries",
        type=int,
        help="with --limit-docs: the slice holds the relevant documents of this many queries "
        "(default a third of --limit-docs)",
    )
    parser.add_argument("--seed", type=int, default=42, help="seed of the slice's sample")
    parser.add_argument(
        "--stack-dir",
        type=Path,
        help="the stack's folder (default .sluice/eval-<embedder>, and one per slice)",
    )
    parser.add_argument(
        "--fresh",
        action="store_true",
        help="delete the stack folder's data first (needed after changing chunker settings: "
        "unchanged documents are not re-chunked)",
    )
    parser.add_argument(
        "--env",
        action="append",
        default=[],
        metavar="KEY=VALUE",
        help="extra environment of the stack, e.g. SLUICE_CHUNKER__SIZE=500 (repeatable; "
        "takes effect only when the stack starts)",
    )
    parser.add_argument(
        "--modes",
        default=",".join(EVAL_MODES),
        help=f"comma-separated modes ({PREVIOUS_HYBRID}: hybrid with the previous fusion)",
    )
    parser.add_argument("--threads", type=int, default=THREADS, help="query threads (default 4)")
    parser.add_argument("--transform-workers", type=int, default=0, help="0: the stack default")
    parser.add_argument(
        "--timeout", type=float, default=3600, help="seconds to wait for the indexing"
    )
    parser.add_argument("--keep-running", action="store_true", help="leave the stack running")
    parser.add_argument("--json", action="store_true", help="also print the figures as JSON")
    args = parser.parse_args(argv)
    args.modes = [m.strip() for m in args.modes.split(",") if m.strip()]
    if not args.modes or set(args.modes) - set(EVAL_MODES):
        parser.error(f"--modes: choose from {', '.join(EVAL_MODES)}")
    if args.limit_docs is not None and args.limit_docs < 1:
        parser.error("--limit-docs must be at least 1")
    if args.threads < 1 or args.transform_workers < 0:
        parser.error("--threads must be at least 1 and --transform-workers at least 0")
    if args.stack_dir is None:  # a slice has a stack of its own: BM25 statistics are per
        # collection, so documents of other tenants would change the text scores
        tenant = slice_tenant(args.limit_docs, args.seed, args.judged_queries)
        suffix = tenant.removeprefix(TENANT)
        args.stack_dir = ROOT / ".sluice" / f"eval-{args.embedder}{suffix}"
    return args


def main(argv: list[str] | None = None) -> None:
    """Index, search, score, report."""
    args = parse_args(argv)
    os.environ.setdefault("SLUICE_CONF_DIR", str(ROOT / "conf"))
    dataset = load_dataset(args.data_dir, args.queries, args.qrels)
    tenant = slice_tenant(args.limit_docs, args.seed, args.judged_queries)
    if args.limit_docs is None:
        document_ids = list(dataset.corpus)
        query_ids = judged(dataset, document_ids)
    else:
        document_ids, query_ids = select_slice(
            dataset, args.limit_docs, args.seed, args.judged_queries
        )
    unjudged = len(dataset.queries) - len(query_ids)
    say(
        f"{len(document_ids)} documents (tenant {tenant!r}), {len(query_ids)} queries to "
        f"evaluate" + (f" ({unjudged} without judgements in the index skipped)" if unjudged else "")
    )
    if args.fresh and args.stack_dir.exists():
        probe = make_stack(args.stack_dir, args.embedder)
        if any(probe.status().values()):
            raise SystemExit(f"--fresh: the stack of {args.stack_dir} runs; stop it first")
        shutil.rmtree(args.stack_dir / "data", ignore_errors=True)
    say(f"starting the stack ({args.embedder}) in {args.stack_dir}")
    with persistent_stack(
        args.stack_dir,
        args.embedder,
        parse_env(args.env),
        args.transform_workers,
        args.keep_running,
    ) as stack:
        index = index_documents(stack, documents_json(dataset, document_ids, tenant), args.timeout)
        say(
            f"searching: {len(query_ids)} queries x {len(args.modes)} modes, {args.threads} threads"
        )
        results = evaluate(stack, dataset, query_ids, tenant, args.modes, args.threads)
    print_report(args.embedder, index, results, args.threads, args.limit_docs is None)
    if args.json:
        print(report_json(args.embedder, tenant, index, results))


if __name__ == "__main__":
    main()
