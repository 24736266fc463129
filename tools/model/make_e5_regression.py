"""Writes tests/shared/testdata/e5_small_v2_regression.json: e5-small-v2's vectors, from our run.

Run from the repository with its own Python, after `make model MODEL=e5-small-v2`:

    uv run --frozen python tools/model/make_e5_regression.py

These are REGRESSION vectors, not a reference: no implementation of e5-small-v2 independent of
Sluice's runs offline here (its torch weights are in no registry; the only copy is the int8 ONNX
file that Sluice itself runs). They pin what Sluice's `OnnxEmbedder` computes today (prefixes,
tokenizer settings, truncation at 512 tokens, mean pooling, normalisation) so that a change to
any of them shows. The texts are the MiniLM reference sentences as passages, plus queries, each
with its kind; each component is the shortest decimal that reads back as the same float32.
Regenerate only on purpose, when the model or the embedding pipeline is meant to change.
"""

from __future__ import annotations

import argparse
import json
import sys
from pathlib import Path

import numpy as np

from sluice.embedders.catalogue import MODELS
from sluice.embedders.onnx import OnnxEmbedder

HERE = Path(__file__).resolve().parent
REPO_ROOT = HERE.parents[1]
TESTDATA = REPO_ROOT / "tests" / "shared" / "testdata"
DEFAULT_OUTPUT = TESTDATA / "e5_small_v2_regression.json"
NAME = "e5-small-v2"
QUERIES = [
    "what causes scurvy",
    "what does insulin regulate",
    "why do volcanoes erupt",
    "how do I reset a forgotten password",
    "vitamin D and fractures in older adults",
    "Does aspirin lower the risk of colorectal cancer?",
    "sluice gate",
    "",
    "東京の天気",
    "BRCA1 mutation breast cancer risk",
]


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--models-dir", type=Path, default=REPO_ROOT / ".sluice" / "models")
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT)
    args = parser.parse_args(argv)
    passages = json.loads((TESTDATA / "minilm_reference.json").read_text("utf-8"))["sentences"]
    card = MODELS[NAME]
    embedder = OnnxEmbedder(card, args.models_dir / NAME, threads=1)
    items = []
    for kind, texts in (("query", QUERIES), ("passage", passages)):
        vectors = np.asarray(embedder.embed(texts, kind), dtype=np.float32)  # type: ignore[arg-type]
        for text, vector in zip(texts, vectors, strict=True):
            # str(np.float32) is the shortest decimal that parses back to the same float32.
            items.append({"kind": kind, "text": text, "vector": [float(str(x)) for x in vector]})
    data = {
        "model": NAME,
        "version": card.version,
        "note": "regression vectors of Sluice's own run (no independent e5 reference offline); "
        "tools/model/make_e5_regression.py",
        "items": items,
    }
    args.output.write_text(json.dumps(data, ensure_ascii=False) + "\n", encoding="utf-8")
    print(f"wrote {args.output}: {len(items)} vectors")
    return 0


if __name__ == "__main__":
    sys.exit(main())
