"""Builds all-MiniLM-L6-v2-int8: the fp32 export fused and quantised to int8 (`make model
MODEL=all-MiniLM-L6-v2-int8`).

Run from the repository with its own Python (this file needs the standard library only):

    uv run --frozen python tools/model/quantise_minilm.py --out .sluice/models/all-MiniLM-L6-v2-int8

It first makes (or finds current) the fp32 export beside --out (`export_minilm.py`, folder
`all-MiniLM-L6-v2`), then runs `_quantise_in_venv.py` in the same throwaway build venv, which
has `onnx` (onnxruntime's optimiser and quantiser need it; the repository's environment does
not). The recipe and its measurements: `_quantise_in_venv.py`, docs/models.md.

Idempotent: when --out holds a manifest made by this recipe from the current fp32 build and its
files match their SHA-256, nothing is done. The build is deterministic (same bytes each time,
for the pinned onnxruntime), so the version, `onnx-int8pc-<first 12 hex of model.onnx's
SHA-256>`, is stable.
"""

from __future__ import annotations

import argparse
import json
import shutil
import sys
import time
from pathlib import Path
from typing import Any

import export_minilm

HERE = Path(__file__).resolve().parent
NAME = "all-MiniLM-L6-v2-int8"
FP32_NAME = "all-MiniLM-L6-v2"
DEFAULT_OUT = export_minilm.REPO_ROOT / ".sluice" / "models" / NAME
FP32_LAYERS = (0, 1, 2)  # whose feed-forward output projection stays fp32
RECIPE = (
    "onnxruntime.transformers.optimizer (bert, 12 heads, 384, opt_level 1), then "
    "quantize_dynamic per-channel QInt8; fp32: "
    + ", ".join(f"layer.{i}/output/dense/MatMul" for i in FP32_LAYERS)
)


def source_of(fp32_manifest: dict[str, Any]) -> str:
    """What an int8 build records as its source: the fp32 build it was made from."""
    model_sha = fp32_manifest["files"]["model.onnx"]
    return f"{FP32_NAME} {fp32_manifest['version']} (model.onnx {model_sha})"


def up_to_date(out: Path, fp32_manifest: dict[str, Any]) -> dict[str, Any] | None:
    """The manifest of --out if this recipe made it from this fp32 build and its files match."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        if manifest.get("name") != NAME or manifest.get("recipe") != RECIPE:
            return None
        if manifest.get("batch_invariant") is not False:
            return None
        if manifest.get("source") != source_of(fp32_manifest):
            return None
        files = manifest["files"]
        if not set(export_minilm.MODEL_FILES) <= set(files):
            return None
        for name, expected in files.items():
            if export_minilm.sha256_of(out / name) != expected:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return dict(manifest)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model directory to write")
    parser.add_argument(
        "--fp32", type=Path, help="the fp32 model folder (default: all-MiniLM-L6-v2 beside --out)"
    )
    parser.add_argument("--venv", type=Path, default=export_minilm.DEFAULT_VENV)
    parser.add_argument("--force", action="store_true", help="build even if --out is current")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    fp32: Path = (args.fp32 or out.parent / FP32_NAME).resolve()
    started = time.monotonic()

    export_minilm.main(["--out", str(fp32), "--venv", str(args.venv)])
    fp32_manifest = json.loads((fp32 / "manifest.json").read_text(encoding="utf-8"))
    current = None if args.force else up_to_date(out, fp32_manifest)
    if current is not None:
        print(
            f"{out} is up to date ({current['name']} {current['version']}): nothing to do "
            f"[{time.monotonic() - started:.1f} s]"
        )
        return 0

    python = export_minilm.ensure_build_venv(args.venv.resolve())
    staging = out.parent / f".{out.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    print(f"quantising {fp32} into {out}", flush=True)
    export_minilm.run_in_venv(
        python, HERE / "_quantise_in_venv.py", "--fp32", str(fp32), "--out", str(staging)
    )
    manifest = up_to_date(staging, fp32_manifest)
    if manifest is None:
        raise SystemExit(f"the quantisation left no valid manifest in {staging}")
    export_minilm.install(staging, out)
    print(
        f"wrote {out} ({manifest['name']} {manifest['version']}) "
        f"in {time.monotonic() - started:.1f} s"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
