"""What an embedder is: the one description of the vectors it makes, used everywhere.

Vectors are comparable only between embedders of equal identity. The identity travels with the
chunks (`document.embedded` events), is recorded in the Milvus collection's properties (JSON)
and, as its `key`, in each chunk row and in the document record of the version it indexed.
searchapi (Go, `embed.Identity`) reads the same JSON.
"""

from __future__ import annotations

from pydantic import BaseModel, ConfigDict


class EmbedderIdentity(BaseModel):
    """An embedder's name, vector dimension and version (a build of the same model that makes
    different vectors gets another version)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    dim: int
    version: str

    @property
    def key(self) -> str:
        """The identity as one string, `name:dim:version` (chunk rows, document records)."""
        return f"{self.name}:{self.dim}:{self.version}"


HASHING_VERSION = "1"
"""The feature-hashing algorithm's version (`sluice.embedders.hashing`, and its Go port)."""
