"""Quantises the all-MiniLM-L6-v2 fp32 export to int8; runs INSIDE the throwaway build venv.

Started by `quantise_minilm.py` (which makes the fp32 export and the venv first); not meant to be
run by hand. onnxruntime's quantisation and transformer optimiser need the `onnx` package, which
the repository's environment does not have.

The recipe (docs/models.md has the measurements behind it):

1. `onnxruntime.transformers.optimizer.optimize_model(model_type="bert", num_heads=12,
   hidden_size=384, opt_level=1)`: the BERT graph fused (EmbedLayerNormalization, Attention,
   SkipLayerNormalization, BiasGelu);
2. `onnxruntime.quantization.quantize_dynamic(per_channel=True, weight_type=QInt8)`: int8
   weights with one scale per output channel, activations quantised at run time, except the
   feed-forward output projections of layers 0-2 (`/bert/encoder/layer.N/output/dense/MatMul`),
   kept fp32: their inputs are GELU outputs, heavy-tailed, and they were the nodes whose fp32
   halved the loss when scanned one at a time;
3. a check against the fp32 model's vectors on fixed texts: below MIN_COSINE the build fails.

Writes model.onnx, tokenizer.json (the fp32 folder's, unchanged) and manifest.json into --out.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import logging
import shutil
import sys
import tempfile
from pathlib import Path
from typing import Any

import numpy as np
import onnx
import onnxruntime as ort
from export_minilm import sha256_of  # the sibling scripts (stdlib only), on sys.path as ours
from onnxruntime.quantization import QuantType, quantize_dynamic
from onnxruntime.transformers import optimizer
from quantise_minilm import FP32_LAYERS, FP32_NAME, NAME, RECIPE, source_of
from tokenizers import Tokenizer

DIM = 384
MAX_TOKENS = 256
NUM_HEADS = 12
MIN_COSINE = (
    0.97  # a gross-failure floor (the empty text is the worst, 0.979); tests: docs/models.md
)

CHECK_TEXTS = [
    "hello world",
    "A sluice gate controls the flow of water in a channel.",
    "",
    "Vitamin D supplementation reduces the risk of fractures in adults over 65.",
    "Ünïcödé, 東京, and emoji 🙂 — all at once!",
    "Microstructural development of human newborn cerebral white matter assessed in vivo by "
    "diffusion tensor magnetic resonance imaging.",
    " ".join(f"word{i} and some filler text" for i in range(200)),  # > 256 tokens: truncated
]


def load_tokenizer(path: Path) -> Tokenizer:
    """The tokenizer with the runtime's settings: truncate at 256, pad to the longest."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    tokenizer.enable_padding(pad_id=tokenizer.token_to_id("[PAD]"), pad_token="[PAD]")
    return tokenizer


def vectors(model: Path, tokenizer: Tokenizer, texts: list[str]) -> Any:
    """Mean-pooled, L2-normalised vectors (what the Sluice embedder computes)."""
    options = ort.SessionOptions()
    options.intra_op_num_threads = 1
    session = ort.InferenceSession(str(model), options, providers=["CPUExecutionProvider"])
    batch = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in batch], dtype=np.int64)
    mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
    feed = {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    (hidden,) = session.run(["last_hidden_state"], feed)
    weights = mask[:, :, None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def fuse(fp32: Path, fused: Path) -> dict[str, int]:
    """The BERT-fused graph of the fp32 export; returns the fused operators' counts."""
    model = optimizer.optimize_model(
        str(fp32),
        model_type="bert",
        num_heads=NUM_HEADS,
        hidden_size=DIM,
        opt_level=1,
        use_gpu=False,
    )
    stats = {k: v for k, v in model.get_fused_operator_statistics().items() if v}
    if stats.get("Attention") != 6 or stats.get("EmbedLayerNormalization") != 1:
        raise SystemExit(f"the optimiser did not fuse the 6 BERT layers: {stats}")
    model.save_model_to_file(str(fused), use_external_data_format=False)
    return stats


def quantise(fused: Path, out: Path) -> list[str]:
    """Per-channel dynamic int8 of the fused graph; returns the nodes kept in fp32."""
    keep = [f"/bert/encoder/layer.{i}/output/dense/MatMul" for i in FP32_LAYERS]
    names = {node.name for node in onnx.load(str(fused)).graph.node}
    absent = [name for name in keep if name not in names]
    if absent:
        raise SystemExit(f"the fused graph has no nodes {absent}: the export changed")
    quantize_dynamic(
        str(fused),
        str(out),
        per_channel=True,
        weight_type=QuantType.QInt8,
        nodes_to_exclude=keep,
        # The fused operators (com.microsoft domain) defeat shape inference on some outputs.
        extra_options={"DefaultTensorType": onnx.TensorProto.FLOAT},
    )
    return keep


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--fp32", type=Path, required=True, help="the fp32 model folder")
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    args = parser.parse_args()
    fp32: Path = args.fp32
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    logging.getLogger().setLevel(logging.ERROR)  # the quantiser's "consider pre-processing"

    fp32_manifest = json.loads((fp32 / "manifest.json").read_text(encoding="utf-8"))
    if fp32_manifest.get("name") != FP32_NAME:
        raise SystemExit(f"{fp32} holds {fp32_manifest.get('name')!r}, not {FP32_NAME}")
    with tempfile.TemporaryDirectory(dir=out.parent) as scratch:
        fused = Path(scratch) / "fused.onnx"
        stats = fuse(fp32 / "model.onnx", fused)
        kept = quantise(fused, out / "model.onnx")
    shutil.copyfile(fp32 / "tokenizer.json", out / "tokenizer.json")

    tokenizer = load_tokenizer(out / "tokenizer.json")
    expected = vectors(fp32 / "model.onnx", tokenizer, CHECK_TEXTS)
    got = vectors(out / "model.onnx", tokenizer, CHECK_TEXTS)
    alone = np.concatenate([vectors(out / "model.onnx", tokenizer, [t]) for t in CHECK_TEXTS])
    worst = float(min((got * expected).sum(axis=1).min(), (alone * expected).sum(axis=1).min()))
    if worst < MIN_COSINE:
        raise SystemExit(f"int8 vectors too far from fp32: min cosine {worst:.4f} < {MIN_COSINE}")
    print(f"quantise check: min cosine vs fp32 {worst:.5f} on {len(CHECK_TEXTS)} texts")

    model_sha = sha256_of(out / "model.onnx")
    manifest = {
        "name": NAME,
        "dim": DIM,
        "max_tokens": MAX_TOKENS,
        "version": f"onnx-int8pc-{model_sha[:12]}",
        "source": source_of(fp32_manifest),
        "license": "Apache-2.0 (sentence-transformers/all-MiniLM-L6-v2)",
        "recipe": RECIPE,
        # Activations are quantised per tensor at run time, so a text's vector would depend on
        # the other texts of its batch: the embedder runs such models one text at a time.
        "batch_invariant": False,
        "exported_with": {
            "python": sys.version.split()[0],
            "onnxruntime": ort.__version__,
            "onnx": importlib.metadata.version("onnx"),
            "fused": stats,
            "fp32_nodes": kept,
        },
        "files": {"model.onnx": model_sha, "tokenizer.json": sha256_of(out / "tokenizer.json")},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
