"""Choose hybrid search's fusion on SciFact's train split: a grid of RRF and score fusion.

Runs on the index `bench/eval_scifact.py` built (the same persistent folder and tenant, so
run `make eval` first; the stack is started if it does not run). For every judged query it
fetches, through searchapi, the dense and the text ranking `--depth` chunks deep (what hybrid
search fuses: searchapi's `candidates`), then fuses them here for every setting of the grid
exactly as searchapi does (searchapi/internal/search/fusion.go: weighted RRF, Σ w / (k + rank);
min-max scaled score fusion, Σ w * scaled score), ranks documents by their best chunk and prints
nDCG@10 per setting, best first. Searching once and fusing offline makes a grid of hundreds of
settings take seconds. Only the train split is used: the defaults must never be chosen on test
data.

    uv run --frozen python bench/tune_fusion.py                 # the full corpus, MiniLM
    uv run --frozen python bench/tune_fusion.py --embedder hashing --limit-docs 300
"""

from __future__ import annotations

import argparse
import itertools
import os
import sys
import threading
from collections.abc import Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script: make `bench` and `dev` importable
    sys.path.insert(0, str(ROOT))

from bench.common import DEFAULT_MODEL, EMBEDDERS, say  # noqa: E402
from bench.eval_scifact import (  # noqa: E402
    DATA_DIR,
    Dataset,
    judged,
    load_dataset,
    ndcg_at,
    persistent_stack,
    select_slice,
    slice_tenant,
)

RRF_K = (1, 5, 10, 20, 30, 40, 60, 80, 100, 150)
TEXT_WEIGHTS = (0.25, 0.5, 0.6, 0.7, 0.8, 0.9, 1.0, 1.1, 1.25, 1.5, 2.0, 3.0)  # dense's is 1
DEPTHS = (50, 100)
Ranking = list[tuple[str, str, float]]  # (chunk id, document id, score), best first


@dataclass(frozen=True)
class Setting:
    method: str
    k: float
    text_weight: float
    depth: int

    def label(self) -> str:
        k = f" k={self.k:g}" if self.method == "rrf" else ""
        return f"{self.method}{k} text weight {self.text_weight:g} depth {self.depth}"


def fetch(client: httpx.Client, query: str, mode: str, tenant: str, depth: int) -> Ranking:
    """The mode's ranking of the query, `depth` chunks deep (pages of 100)."""
    ranking: Ranking = []
    for offset in range(0, depth, 100):
        response = client.post(
            "/v1/search",
            json={
                "query": query,
                "mode": mode,
                "k": min(100, depth - offset),
                "offset": offset,
                "tenant": tenant,
            },
        )
        response.raise_for_status()
        hits = response.json()["hits"]
        ranking += [(h["chunk_id"], h["document_id"], float(h["score"])) for h in hits]
        if len(hits) < 100:
            break
    return ranking


def fuse(dense: Ranking, text: Ranking, setting: Setting) -> list[str]:
    """The documents of the fused ranking, best chunk first (as searchapi fuses)."""
    scores: dict[str, float] = {}
    documents: dict[str, str] = {}
    for ranking, weight in (
        (dense[: setting.depth], 1.0),
        (text[: setting.depth], setting.text_weight),
    ):
        if not ranking:
            continue
        top, bottom = ranking[0][2], ranking[-1][2]
        for rank, (chunk, document, score) in enumerate(ranking):
            if setting.method == "rrf":
                contribution = 1 / (setting.k + rank + 1)
            else:
                contribution = 1.0 if top == bottom else (score - bottom) / (top - bottom)
            scores[chunk] = scores.get(chunk, 0.0) + weight * contribution
            documents[chunk] = document
    order = sorted(scores, key=lambda c: (-scores[c], c))
    return list(dict.fromkeys(documents[c] for c in order))


def grid() -> list[Setting]:
    rrf = [Setting("rrf", k, w, d) for k, w, d in itertools.product(RRF_K, TEXT_WEIGHTS, DEPTHS)]
    score = [Setting("score", 0, w, d) for w, d in itertools.product(TEXT_WEIGHTS, DEPTHS)]
    return rrf + score


def rankings(
    url: str, dataset: Dataset, query_ids: Sequence[str], tenant: str, depth: int, threads: int
) -> dict[str, tuple[Ranking, Ranking]]:
    """Each query's dense and text ranking."""
    local = threading.local()

    def one(query_id: str) -> tuple[str, tuple[Ranking, Ranking]]:
        client = getattr(local, "client", None)
        if client is None:
            client = local.client = httpx.Client(base_url=url, timeout=60)
        query = dataset.queries[query_id]
        return query_id, (
            fetch(client, query, "dense", tenant, depth),
            fetch(client, query, "text", tenant, depth),
        )

    with ThreadPoolExecutor(threads) as pool:
        return dict(pool.map(one, query_ids))


def mean_ndcg(
    fetched: dict[str, tuple[Ranking, Ranking]], qrels: dict[str, set[str]], setting: Setting
) -> float:
    values = [ndcg_at(fuse(d, t, setting), qrels[q]) for q, (d, t) in fetched.items()]
    return sum(values) / len(values)


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--embedder", choices=EMBEDDERS, default=DEFAULT_MODEL)
    parser.add_argument("--limit-docs", type=int, help="the slice eval_scifact.py indexed")
    parser.add_argument("--judged-queries", type=int)
    parser.add_argument("--seed", type=int, default=42)
    parser.add_argument("--stack-dir", type=Path, help="default: eval_scifact.py's")
    parser.add_argument("--threads", type=int, default=4)
    parser.add_argument("--top", type=int, default=15, help="how many settings to print")
    args = parser.parse_args(argv)
    if args.limit_docs is not None and args.judged_queries is None:
        args.judged_queries = max(1, args.limit_docs // 3)
    return args


def main(argv: list[str] | None = None) -> None:
    args = parse_args(argv)
    os.environ.setdefault("SLUICE_CONF_DIR", str(ROOT / "conf"))
    dataset = load_dataset(args.data_dir)
    tenant = slice_tenant(args.limit_docs, args.seed, args.judged_queries)
    if args.limit_docs is None:
        query_ids = judged(dataset, list(dataset.corpus))
    else:
        _, query_ids = select_slice(dataset, args.limit_docs, args.seed, args.judged_queries)
    directory = (
        args.stack_dir or ROOT / ".sluice" / f"eval-{args.embedder}{tenant.removeprefix('scifact')}"
    )
    if not (directory / "data").exists():
        raise SystemExit(f"{directory} holds no index: run bench/eval_scifact.py (make eval) first")
    say(f"fetching the dense and text rankings of {len(query_ids)} queries ({max(DEPTHS)} deep)")
    with persistent_stack(directory, args.embedder, {}, 0, keep_running=False) as stack:
        fetched = rankings(
            stack.url("searchapi"), dataset, query_ids, tenant, max(DEPTHS), args.threads
        )
    results: list[tuple[float, Setting]] = [
        (mean_ndcg(fetched, dataset.qrels, s), s) for s in grid()
    ]
    results.sort(key=lambda r: -r[0])
    print(f"\nnDCG@10 of hybrid on {len(query_ids)} train queries, by fusion setting (best first):")
    for value, setting in results[: args.top]:
        print(f"  {value:.4f}  {setting.label()}")
    previous = Setting("rrf", 60, 1.0, 100)
    print(
        f"  {mean_ndcg(fetched, dataset.qrels, previous):.4f}  {previous.label()} "
        "(the previous default)"
    )
    for method in ("rrf", "score"):
        best = next(r for r in results if r[1].method == method)
        print(f"best {method}: {best[0]:.4f} with {best[1].label()}")


if __name__ == "__main__":
    main()
