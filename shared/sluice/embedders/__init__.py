"""Embedders turn texts into dense vectors; which one is used is configuration."""

from __future__ import annotations

from typing import Protocol

from sluice.events import EmbedderInfo
from sluice.settings import EmbedderSettings


class Embedder(Protocol):
    """Turns a batch of texts into L2-normalised vectors of a fixed dimension."""

    info: EmbedderInfo

    def embed(self, texts: list[str]) -> list[list[float]]:
        """One vector per text, in order."""
        ...


def create_embedder(settings: EmbedderSettings) -> Embedder:
    """The embedder the settings name."""
    if settings.kind == "hashing":
        from sluice.embedders.hashing import HashingEmbedder

        return HashingEmbedder(settings.dim)
    raise ValueError(f"unknown embedder kind {settings.kind!r}")
