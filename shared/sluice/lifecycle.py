"""The life of a document version: its statuses, the transitions between them, its record.

Every service moves documents through this one table; `sluice.stores.documents` applies it in
Redis, atomically and only while the version a change is about is still the document's current
one (so a late event about an older version never overwrites a newer one's state):

    accepted -> transforming -> embedded -> indexed        (the pipeline)
    accepted | transforming | embedded -> failed           (a delivery failed for good)
    transforming, indexed <- failed                        (a replayed delivery)
    any -> deleted                                         (ingest, DELETE)

A submission of a new version always makes it current and `accepted`. A submission of the
current version is answered `unchanged` and changes nothing, unless the version is failed or
deleted, or was indexed by another embedder: then it is accepted again.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from pydantic import BaseModel, ConfigDict


class Status(StrEnum):
    """What happened to a document version (the `status` of its record and of API answers)."""

    ACCEPTED = "accepted"
    TRANSFORMING = "transforming"
    EMBEDDED = "embedded"
    INDEXED = "indexed"
    FAILED = "failed"
    DELETED = "deleted"
    # The answer to a resubmission of the current version: reported, counted, never stored.
    UNCHANGED = "unchanged"


IN_FLIGHT = frozenset({Status.ACCEPTED, Status.TRANSFORMING, Status.EMBEDDED})
"""Statuses of a version on its way through the pipeline."""

FINAL = frozenset({Status.INDEXED, Status.FAILED, Status.DELETED})
"""Statuses a version stays in until something new happens to its document."""

ALLOWED_FROM: dict[Status, frozenset[Status]] = {
    # A redelivery may find the version already transforming or embedded; failed: a replay.
    Status.TRANSFORMING: IN_FLIGHT | {Status.FAILED},
    Status.EMBEDDED: frozenset({Status.TRANSFORMING}),
    Status.INDEXED: IN_FLIGHT | {Status.FAILED},
    Status.FAILED: IN_FLIGHT,
}
"""For each status a pipeline step moves a version to: the statuses it may come from."""

ACCEPTED_AGAIN_FROM = frozenset({Status.FAILED, Status.DELETED})
"""Statuses from which resubmitting the same version starts it again (besides `indexed` by
another embedder)."""


@dataclass(frozen=True)
class Transition:
    """A pipeline step's change of one document version to `status` (see ALLOWED_FROM), with
    other record fields to set at the same time."""

    tenant: str
    doc_id: str
    version: str
    status: Status
    fields: dict[str, Any] = field(default_factory=dict)

    def __post_init__(self) -> None:
        if self.status not in ALLOWED_FROM:
            raise ValueError(f"no pipeline step moves a document to {self.status}")

    @property
    def allowed_from(self) -> frozenset[Status]:
        """The statuses the change applies to."""
        return ALLOWED_FROM[self.status]


class DocumentRecord(BaseModel):
    """A document's record: its current version and what happened to it."""

    model_config = ConfigDict(frozen=True)

    id: str
    tenant: str
    version: str
    status: Status
    chunks: int = 0
    error: str | None = None
    created_at: str = ""
    accepted_at: str = ""
    updated_at: str = ""
    indexed_at: str | None = None
    embedder: str | None = None  # the identity key of the embedder that indexed the version

    def to_json(self) -> dict[str, Any]:
        """As the status API answers it (optional fields only when set)."""
        body = self.model_dump(mode="json")
        for optional in ("indexed_at", "embedder"):
            if body[optional] is None:
                del body[optional]
        return body
