"""Embedders turn texts into dense vectors; which one is used is configuration."""

from __future__ import annotations

from typing import Protocol

from sluice.errors import ConfigError
from sluice.events import EmbedderInfo
from sluice.settings import EmbedderSettings


class Embedder(Protocol):
    """Turns a batch of texts into L2-normalised vectors of a fixed dimension."""

    info: EmbedderInfo

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...

    def warm(self) -> None:
        """Load what the first `embed` of this process would (readiness probes call it)."""
        ...


def create_embedder(settings: EmbedderSettings) -> Embedder:
    """The embedder the settings name."""
    if settings.kind == "hashing":
        from sluice.embedders.hashing import HashingEmbedder

        return HashingEmbedder(settings.dim)
    from sluice.embedders.minilm import MiniLmEmbedder

    embedder = MiniLmEmbedder(settings.model_dir, settings.threads)
    if embedder.info.dim != settings.dim or embedder.info.name != settings.model:
        raise ConfigError(
            f"embedder: {settings.model_dir} holds {embedder.info.name} ({embedder.info.dim}-d) "
            f"but the configuration says {settings.model} ({settings.dim}-d)"
        )
    return embedder


def embedder_info(settings: EmbedderSettings) -> EmbedderInfo:
    """Which embedder the settings name, without loading a model (the index function records
    it with the chunks but never embeds)."""
    if settings.kind == "hashing":
        from sluice.embedders.hashing import HashingEmbedder

        return HashingEmbedder(settings.dim).info
    from sluice.embedders.manifest import load_manifest

    manifest = load_manifest(settings.model_dir)
    return EmbedderInfo(name=manifest["name"], dim=manifest["dim"], version=manifest["version"])
