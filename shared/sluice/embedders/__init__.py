"""Embedders turn texts into dense vectors; which one is used is configuration."""

from __future__ import annotations

import time
from typing import TYPE_CHECKING, Protocol

from sluice.embedders.identity import EmbedderIdentity
from sluice.errors import ConfigError
from sluice.metrics import EMBED_BATCH_SIZE, EMBED_DURATION

if TYPE_CHECKING:
    from sluice.settings import EmbedderSettings


class Embedder(Protocol):
    """Turns a batch of texts into L2-normalised vectors of a fixed dimension."""

    identity: EmbedderIdentity

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...

    def warm(self) -> None:
        """Load what the first `embed` of this process would (readiness probes call it)."""
        ...


def create_embedder(settings: EmbedderSettings) -> Embedder:
    """The embedder the settings name; a model folder holding another model than the settings
    declare (`settings.identity()`) is refused."""
    if settings.kind == "hashing":
        from sluice.embedders.hashing import HashingEmbedder

        return HashingEmbedder(settings.dim)
    from sluice.embedders.manifest import how_to_build
    from sluice.embedders.minilm import MiniLmEmbedder

    embedder = MiniLmEmbedder(settings.model_dir, settings.threads)
    if embedder.identity != settings.identity():
        raise ConfigError(
            f"embedder: {settings.model_dir} holds {embedder.identity.key} but the configuration "
            f"declares {settings.identity().key}; " + how_to_build(settings.model_dir)
        )
    return embedder


def embed_in_batches(embedder: Embedder, texts: list[str], batch_size: int) -> list[list[float]]:
    """Embed texts `batch_size` at a time (the batches' sizes and times go to the metrics)."""
    vectors: list[list[float]] = []
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        began = time.perf_counter()
        vectors.extend(embedder.embed(batch))
        EMBED_DURATION.observe(time.perf_counter() - began)
        EMBED_BATCH_SIZE.observe(len(batch))
    return vectors
