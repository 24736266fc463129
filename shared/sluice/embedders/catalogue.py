"""Every embedder Sluice ships, by name: the one place a model's identity and use are written.

A card says what a model's vectors are (name, dimension, version: the `EmbedderIdentity` that
collections and chunk rows record) and how texts become them (prefixes, pooling,
normalisation, the token limit), and where `make model MODEL=<name>` puts the files
(`<embedder.models_dir>/<name>`). `embedder.model` names the card the first collection is built
with; `sluice models migrate --to <name>` moves to another (docs/models.md).
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import Literal

from sluice.embedders.identity import HASHING_VERSION, EmbedderIdentity
from sluice.errors import ConfigError

TextKind = Literal["query", "passage"]
"""What a text is to the embedder: a search query, or a passage (a chunk) to be found."""

HASHING = "hashing"


@dataclass(frozen=True)
class ModelCard:
    """One embedder: its identity and how it embeds."""

    name: str
    dim: int
    version: str
    runtime: Literal["hashing", "onnx"]
    description: str
    query_prefix: str = ""  # put before every query (e5: "query: ")
    passage_prefix: str = ""  # put before every passage (e5: "passage: ")
    pooling: Literal["mean", "none"] = "mean"  # over the unmasked tokens' last hidden states
    normalised: bool = True  # L2-normalised vectors (every Sluice collection uses cosine)
    max_tokens: int = 256  # longer texts are truncated

    @property
    def identity(self) -> EmbedderIdentity:
        """What the vectors are, as collections and rows record it."""
        return EmbedderIdentity(name=self.name, dim=self.dim, version=self.version)

    def prefixed(self, texts: list[str], kind: TextKind) -> list[str]:
        """The texts as the model expects them (its query or passage prefix added)."""
        prefix = self.query_prefix if kind == "query" else self.passage_prefix
        return [prefix + text for text in texts] if prefix else texts


MODELS: dict[str, ModelCard] = {
    card.name: card
    for card in (
        ModelCard(
            name="all-MiniLM-L6-v2",
            dim=384,
            version="onnx-fp32-53aa51172d14",
            runtime="onnx",
            description="sentence-transformers/all-MiniLM-L6-v2, fp32 (the default)",
        ),
        ModelCard(
            name="all-MiniLM-L6-v2-int8",
            dim=384,
            version="onnx-int8pc-11588f60f289",
            runtime="onnx",
            description=(
                "all-MiniLM-L6-v2 fused and int8-quantised per channel at export: ~1.7x the "
                "fp32 throughput, cosine ~0.997 to its vectors"
            ),
        ),
        ModelCard(
            name="e5-small-v2",
            dim=384,
            version="onnx-int8-7d9092cb25f2",
            runtime="onnx",
            description="intfloat/e5-small-v2, int8 (Xenova's export), 12 layers, 512 tokens",
            query_prefix="query: ",
            passage_prefix="passage: ",
            max_tokens=512,
        ),
    )
}
"""The model cards by name (the hashing embedder's card depends on its dimension: `card`)."""


def card(name: str, hashing_dim: int = 384) -> ModelCard:
    """The card of the embedder called `name` (`hashing` has `hashing_dim` dimensions)."""
    if name == HASHING:
        return ModelCard(
            name=HASHING,
            dim=hashing_dim,
            version=HASHING_VERSION,
            runtime="hashing",
            description="feature hashing of words and word pairs: tiny, lexical only",
            pooling="none",
        )
    found = MODELS.get(name)
    if found is None:
        raise ConfigError(
            f"embedder {name!r} is not one Sluice ships; choose one of "
            f"{', '.join([HASHING, *MODELS])}"
        )
    return found


def card_of(identity: EmbedderIdentity) -> ModelCard:
    """The card whose vectors `identity` describes, or ConfigError (an unknown or other
    build)."""
    found = card(identity.name, identity.dim)
    if found.identity != identity:
        raise ConfigError(
            f"embedder {identity.key} is not one this Sluice ships "
            f"(its {identity.name} is {found.identity.key})"
        )
    return found
