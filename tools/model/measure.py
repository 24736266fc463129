"""Measures the catalogue's ONNX models side by side (the figures of docs/models.md).

    uv run --frozen python tools/model/measure.py            # quality, then speed
    uv run --frozen python tools/model/measure.py --only speed --rounds 5

1. quality: all-MiniLM-L6-v2-int8 against the fp32 model it was built from, on the first
   `--passages` SciFact abstracts (title + text, as the eval indexes them; truncated at 256
   tokens by the embedder) and the first `--queries` train claims: cosine of each text's two
   vectors (mean, min), and the overlap of the top-10 neighbours (query -> passages, and
   passage -> other passages) that each model finds among those passages.
2. speed: every model in turn, `--rounds` times (interleaved, so that a change in the machine's
   load hits all of them): chunks/s embedding batches of 32 passages of ~200 tokens, and the
   median latency of a single query (one text per call). `/proc/loadavg` is printed before and
   after. The models run through Sluice's own `OnnxEmbedder` (e5 with its prefixes).

The SciFact data (CC BY-NC) is read from ../shared/data/scifact beside the repository.
"""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path
from typing import Any

import numpy as np

from sluice.embedders.catalogue import MODELS
from sluice.embedders.onnx import OnnxEmbedder

REPO_ROOT = Path(__file__).resolve().parents[2]
DATA_DIR = REPO_ROOT.parent / "shared" / "data" / "scifact"
MODELS_DIR = REPO_ROOT / ".sluice" / "models"
FP32, INT8 = "all-MiniLM-L6-v2", "all-MiniLM-L6-v2-int8"
BATCH = 32
PASSAGE_TOKENS = 200


def load_texts(data_dir: Path, passages: int, queries: int) -> tuple[list[str], list[str]]:
    """The first SciFact abstracts (title and text) and train claims."""
    with (data_dir / "corpus.jsonl").open(encoding="utf-8") as handle:
        docs = [json.loads(line) for _, line in zip(range(passages), handle, strict=False)]
    with (data_dir / "queries.train.jsonl").open(encoding="utf-8") as handle:
        claims = [json.loads(line)["text"] for _, line in zip(range(queries), handle, strict=False)]
    return [f"{d['title']}\n{d['text']}" for d in docs], claims


def loadavg() -> str:
    """The first three fields of /proc/loadavg."""
    try:
        return " ".join(Path("/proc/loadavg").read_text(encoding="utf-8").split()[:3])
    except OSError:
        return "?"


def unit(vectors: list[list[float]]) -> Any:
    return np.asarray(vectors, dtype=np.float64)


def top(queries: Any, passages: Any, k: int, skip_self: bool = False) -> Any:
    scores = queries @ passages.T
    if skip_self:
        np.fill_diagonal(scores, -np.inf)
    return np.argsort(-scores, axis=1, kind="stable")[:, :k]


def overlap(a: Any, b: Any) -> float:
    return float(np.mean([len(set(x) & set(y)) / len(x) for x, y in zip(a, b, strict=True)]))


def quality(models_dir: Path, passages: list[str], queries: list[str]) -> None:
    """int8 against fp32: cosines and top-10 overlaps."""
    fp32 = OnnxEmbedder(MODELS[FP32], models_dir / FP32)
    int8 = OnnxEmbedder(MODELS[INT8], models_dir / INT8)
    embedded = {}
    for name, model in ((FP32, fp32), (INT8, int8)):
        p = np.concatenate(
            [unit(model.embed(passages[i : i + BATCH])) for i in range(0, len(passages), BATCH)]
        )
        q = unit(model.embed(queries, "query"))
        embedded[name] = (p, q)
    (p32, q32), (p8, q8) = embedded[FP32], embedded[INT8]
    cos_p, cos_q = (p32 * p8).sum(axis=1), (q32 * q8).sum(axis=1)
    print(f"\nquality: {INT8} vs {FP32}, {len(passages)} SciFact passages, {len(queries)} claims")
    print(
        f"  cosine, passages: mean {cos_p.mean():.4f}, min {cos_p.min():.4f}, "
        f"p1 {np.percentile(cos_p, 1):.4f}"
    )
    print(
        f"  cosine, queries:  mean {cos_q.mean():.4f}, min {cos_q.min():.4f}, "
        f"p1 {np.percentile(cos_q, 1):.4f}"
    )
    print(
        f"  top-10 overlap: query -> passages {overlap(top(q32, p32, 10), top(q8, p8, 10)):.3f}, "
        f"passage -> passages "
        f"{overlap(top(p32, p32, 10, True), top(p8, p8, 10, True)):.3f}"
    )


def passages_of(tokens: int, embedder: OnnxEmbedder, texts: list[str], count: int) -> list[str]:
    """`count` passages of about `tokens` word pieces, cut from the texts at word pieces' ends."""
    tokenizer = embedder._tokenizer
    out = []
    for encoding, text in zip(tokenizer.encode_batch(texts), texts, strict=True):
        if len(encoding.ids) >= tokens:
            out.append(text[: encoding.offsets[tokens - 2][1]])  # [CLS] ... [SEP]
        if len(out) == count:
            return out
    raise SystemExit(f"fewer than {count} passages of {tokens} tokens")


def speed(
    models_dir: Path, texts: list[str], queries: list[str], rounds: int, threads: int
) -> None:
    """Interleaved rounds of batch throughput and single-query latency, per model."""
    names = [name for name in MODELS if (models_dir / name / "manifest.json").is_file()]
    embedders = {name: OnnxEmbedder(MODELS[name], models_dir / name, threads) for name in names}
    for embedder in embedders.values():
        embedder.warm()
    batch = passages_of(PASSAGE_TOKENS, embedders[names[0]], texts, BATCH)
    rates: dict[str, list[float]] = {name: [] for name in names}
    latency: dict[str, list[float]] = {name: [] for name in names}
    print(
        f"\nspeed: {len(names)} models, {rounds} rounds, batch {BATCH} x ~{PASSAGE_TOKENS} "
        f"tokens, {threads or 'all'} threads; loadavg before: {loadavg()}"
    )
    for embedder in embedders.values():  # a first, untimed pass
        embedder.embed(batch)
        embedder.embed(queries[:2], "query")
    for _ in range(rounds):
        for name, embedder in embedders.items():
            began = time.perf_counter()
            for _ in range(2):
                embedder.embed(batch)
            rates[name].append(2 * BATCH / (time.perf_counter() - began))
            for query in queries[:20]:
                began = time.perf_counter()
                embedder.embed([query], "query")
                latency[name].append((time.perf_counter() - began) * 1000)
    print(f"  loadavg after: {loadavg()}")
    print(f"  {'model':<24}{'chunks/s (median, min-max)':>30}{'1 query ms (median, p90)':>28}")
    for name in names:
        r, lat = rates[name], sorted(latency[name])
        print(
            f"  {name:<24}{statistics.median(r):>12.1f} ({min(r):.1f}-{max(r):.1f})"
            f"{statistics.median(lat):>18.1f} ({lat[int(0.9 * (len(lat) - 1))]:.1f})"
        )


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=MODELS_DIR)
    parser.add_argument("--data-dir", type=Path, default=DATA_DIR)
    parser.add_argument("--passages", type=int, default=400)
    parser.add_argument("--queries", type=int, default=200)
    parser.add_argument("--rounds", type=int, default=5)
    parser.add_argument("--threads", type=int, default=0, help="intra-op threads (0: all cores)")
    parser.add_argument("--only", choices=("quality", "speed"))
    args = parser.parse_args(argv)
    passages, queries = load_texts(args.data_dir, args.passages, args.queries)
    if args.only in (None, "quality"):
        quality(args.models_dir, passages, queries)
    if args.only in (None, "speed"):
        speed(args.models_dir, passages, queries, args.rounds, args.threads)
    return 0


if __name__ == "__main__":
    sys.exit(main())
