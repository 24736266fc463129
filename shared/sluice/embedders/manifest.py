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
    """`{"name", "dim", "version", "max_tokens", "batch_invariant"}` of the model in
    `model_dir`, or ConfigError.

    `batch_invariant` (default true) is false for models whose activations are quantised at run
    time per tensor (the int8 builds): there a text's vector depends on the other texts of its
    batch (cosine down to ~0.97 for short texts), so they are run one text at a time."""
    path = model_dir / "manifest.json"
    try:
        manifest = json.loads(path.read_text(encoding="utf-8"))
        name, dim, version = manifest["name"], manifest["dim"], manifest["version"]
        max_tokens = manifest.get("max_tokens", DEFAULT_MAX_TOKENS)
        batch_invariant = manifest.get("batch_invariant", True)
    except (OSError, ValueError, KeyError, TypeError) as error:
        raise ConfigError(
            f"embedder.models_dir: {path} is not a valid model manifest ({error}); "
            + how_to_build(model_dir)
        ) from error
    if not (isinstance(name, str) and isinstance(version, str)):
        raise ConfigError(f"embedder.models_dir: {path}: name and version must be strings")
    if not (isinstance(dim, int) and dim > 0 and isinstance(max_tokens, int) and max_tokens > 2):
        raise ConfigError(f"embedder.models_dir: {path}: dim and max_tokens must be positive ints")
    if not isinstance(batch_invariant, bool):
        raise ConfigError(f"embedder.models_dir: {path}: batch_invariant must be true or false")
    return {
        "name": name,
        "dim": dim,
        "version": version,
        "max_tokens": max_tokens,
        "batch_invariant": batch_invariant,
    }
