"""Embedders turn texts into dense vectors; which one is used is configuration."""

from __future__ import annotations

import threading
import time
from pathlib import Path
from typing import TYPE_CHECKING, Protocol

from sluice.embedders.catalogue import ModelCard, TextKind, card_of
from sluice.embedders.identity import EmbedderIdentity
from sluice.metrics import EMBED_BATCH_SIZE, EMBED_DURATION

if TYPE_CHECKING:
    from sluice.settings import EmbedderSettings


class Embedder(Protocol):
    """Turns a batch of texts into L2-normalised vectors of a fixed dimension."""

    identity: EmbedderIdentity

    def embed(self, texts: list[str], kind: TextKind = "passage") -> list[list[float]]:
        """One vector per text, in order; queries and passages may be embedded differently
        (the card's prefixes)."""
        ...

    def warm(self) -> None:
        """Load what the first `embed` of this process would (readiness probes call it)."""
        ...


def load_embedder(card: ModelCard, models_dir: Path, threads: int = 0) -> Embedder:
    """The embedder of a card; an ONNX model's files are `<models_dir>/<name>` (a folder
    holding another build than the card's is refused)."""
    if card.runtime == "hashing":
        from sluice.embedders.hashing import HashingEmbedder

        return HashingEmbedder(card.dim)
    from sluice.embedders.onnx import OnnxEmbedder

    return OnnxEmbedder(card, Path(models_dir) / card.name, threads)


def create_embedder(settings: EmbedderSettings) -> Embedder:
    """The embedder the settings name (`embedder.model`)."""
    return load_embedder(settings.card(), settings.models_dir, settings.threads)


class Embedders:
    """The embedders of one process by identity, each loaded on first use and kept (a model
    change needs the old and the new model at once: queries of both, and the migration)."""

    def __init__(self, settings: EmbedderSettings) -> None:
        self.settings = settings
        self._loaded: dict[EmbedderIdentity, Embedder] = {}
        self._lock = threading.Lock()

    def get(self, identity: EmbedderIdentity) -> Embedder:
        """The embedder making `identity`'s vectors (ConfigError if Sluice has none)."""
        with self._lock:
            embedder = self._loaded.get(identity)
            if embedder is None:
                card = card_of(identity)
                embedder = load_embedder(card, self.settings.models_dir, self.settings.threads)
                self._loaded[identity] = embedder
            return embedder


def embed_in_batches(
    embedder: Embedder, texts: list[str], batch_size: int, kind: TextKind = "passage"
) -> list[list[float]]:
    """Embed texts `batch_size` at a time (the batches' sizes and times go to the metrics)."""
    vectors: list[list[float]] = []
    for start in range(0, len(texts), batch_size):
        batch = texts[start : start + batch_size]
        began = time.perf_counter()
        vectors.extend(embedder.embed(batch, kind))
        EMBED_DURATION.observe(time.perf_counter() - began)
        EMBED_BATCH_SIZE.observe(len(batch))
    return vectors
