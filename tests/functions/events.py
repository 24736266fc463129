"""The pipeline events the function tests post, built as their emitters build them."""

from __future__ import annotations

from cloudevents.http import CloudEvent

from sluice.embedders.identity import EmbedderIdentity
from sluice.events import (
    DOCUMENT_ACCEPTED,
    DOCUMENT_EMBEDDED,
    DocumentAccepted,
    DocumentEmbedded,
    EmbeddedChunk,
    make_event,
    now_iso,
)
from sluice.tracing import TraceContext

HASHING = EmbedderIdentity(name="hashing", dim=384, version="1")
"""The embedder the function tests run (`function_client` configures it)."""


def accepted(
    tenant: str,
    doc_id: str = "doc",
    version: str = "v1",
    text: str = "One sentence. Another sentence. " * 50,
) -> DocumentAccepted:
    """A version as ingest accepts it (its source)."""
    return DocumentAccepted(
        id=doc_id,
        tenant=tenant,
        version=version,
        title="T",
        text=text,
        metadata={"k": 1},
        accepted_at=now_iso(),
    )


def accepted_event(
    tenant: str,
    doc_id: str = "doc",
    version: str = "v1",
    text: str = "One sentence. Another sentence. " * 50,
    trace: TraceContext | None = None,
) -> CloudEvent:
    """A `document.accepted` event, as ingest publishes it."""
    payload = accepted(tenant, doc_id, version, text)
    return make_event(
        DOCUMENT_ACCEPTED,
        "/tests",
        payload,
        subject=doc_id,
        tenant=tenant,
        version=version,
        trace=trace,
    )


def embedded_event(tenant: str, identity: EmbedderIdentity = HASHING) -> CloudEvent:
    """A `document.embedded` event of one chunk of document `doc`, version `v1`."""
    payload = DocumentEmbedded(
        id="doc",
        tenant=tenant,
        version="v1",
        title="",
        metadata={},
        accepted_at=now_iso(),
        embedder=identity,
        chunks=[EmbeddedChunk(chunk=0, start=0, end=4, text="text", vector=[0.1] * 384)],
    )
    return make_event(
        DOCUMENT_EMBEDDED, "/tests", payload, subject="doc", tenant=tenant, version="v1"
    )
