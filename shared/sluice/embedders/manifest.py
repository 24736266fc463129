"""The model folder's manifest (what `make model` writes), read without loading the model."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

from sluice.errors import ConfigError

DEFAULT_MAX_TOKENS = 256


def how_to_build(model_dir: Path) -> str:
    """The instruction that makes a missing or broken model folder (`<models_dir>/<name>`)."""
    name = model_dir.name
    return (
        f"build it with `make model MODEL={name}`, i.e. "
        f"`uv run python tools/model/build.py --model {name} --models-dir {model_dir.parent}`"
    )


def load_manifest(model_dir: Path) -> dict[str, Any]:
    """`{"name", "dim", "version", "max_tokens"}` of the model in `model_dir`, or ConfigError."""
    path = model_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        name, dim, version = manifest["name"], manifest["dim"], manifest["version"]
        max_tokens = manifest.get("max_tokens", DEFAULT_MAX_TOKENS)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"embedder.models_dir: {path} is not a valid model manifest ({error}); "
            + how_to_build(model_dir)
        ) from error
    if not (isinstance(name, str) and isinstance(version, str)):
        raise ConfigError(f"embedder.models_dir: {path}: name and version must be strings")
    if not (isinstance(dim, int) and dim > 0 and isinstance(max_tokens, int) and max_tokens > 2):
        raise ConfigError(f"embedder.models_dir: {path}: dim and max_tokens must be positive ints")
    return {"name": name, "dim": dim, "version": version, "max_tokens": max_tokens}
