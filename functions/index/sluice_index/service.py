"""Index's logic, without HTTP: upsert a version's chunks, then drop older versions' chunks.

Writes for one document are serialised by a Redis lock, and each is checked against the
document's record under that lock: a late event for a superseded version writes nothing. The
versions that may have rows in Milvus are recorded before writing, so their chunks can later
be deleted by primary key (cheap) rather than by a filter scan.
"""

from __future__ import annotations

import logging
import time

from cloudevents.http import CloudEvent

from sluice.errors import ValidationFailed
from sluice.events import (
    DOCUMENT_INDEXED,
    DocumentDeleted,
    DocumentEmbedded,
    DocumentIndexed,
    make_event,
    now_iso,
)
from sluice.metrics import DOCUMENTS
from sluice.stores.blobs import BlobStore
from sluice.stores.documents import DocumentStore, Status
from sluice.stores.milvus import ChunkStore, chunk_id, metadata_json

log = logging.getLogger(__name__)
SOURCE = "/sluice/index"


class IndexService:
    """Keeps Milvus in step with the document records."""

    def __init__(
        self, chunks: ChunkStore, documents: DocumentStore, blobs: BlobStore, lock_timeout: int
    ) -> None:
        self.chunks = chunks
        self.documents = documents
        self.blobs = blobs
        self.lock_timeout = lock_timeout

    def handle_embedded(self, event: CloudEvent) -> CloudEvent | None:
        """Write the version's chunks and reply `document.indexed` (None if superseded)."""
        doc = self.blobs.unwrap(event.data, DocumentEmbedded)
        if doc.embedder != self.chunks.embedder:
            raise ValidationFailed(
                f"chunks were embedded with {doc.embedder.model_dump()} but the collection "
                f"holds {self.chunks.embedder.model_dump()}",
                code="embedder_mismatch",
            )
        with self.documents.lock(doc.tenant, doc.id, self.lock_timeout):
            record = self.documents.get(doc.tenant, doc.id)
            if (
                record is None
                or record["version"] != doc.version
                or record["status"] in (Status.DELETED, Status.INDEXED)
            ):
                log.info(
                    "skipped: version %s is superseded, deleted or already indexed", doc.version
                )
                return None
            self.documents.record_written(doc.tenant, doc.id, doc.version, len(doc.chunks))
            self.chunks.upsert(self._rows(doc))
            self._delete_versions(doc.tenant, doc.id, keep=doc.version)
            indexed_at = now_iso()
            if not self.documents.transition(
                doc.tenant,
                doc.id,
                doc.version,
                Status.INDEXED,
                [Status.ACCEPTED, Status.TRANSFORMING, Status.EMBEDDED, Status.FAILED],
                chunks=len(doc.chunks),
                indexed_at=indexed_at,
                error="",
            ):
                return None
        DOCUMENTS.labels(Status.INDEXED).inc()
        log.info("indexed", extra={"chunks": len(doc.chunks)})
        return make_event(
            DOCUMENT_INDEXED,
            SOURCE,
            DocumentIndexed(
                id=doc.id,
                tenant=doc.tenant,
                version=doc.version,
                chunks=len(doc.chunks),
                indexed_at=indexed_at,
            ),
            subject=doc.id,
            tenant=doc.tenant,
            version=doc.version,
        )

    def handle_deleted(self, event: CloudEvent) -> CloudEvent | None:
        """Remove the document's chunks (keeping a version resubmitted since the delete)."""
        doc = DocumentDeleted.model_validate(event.data)
        with self.documents.lock(doc.tenant, doc.id, self.lock_timeout):
            record = self.documents.get(doc.tenant, doc.id)
            keep = record["version"] if record and record["status"] != Status.DELETED else None
            self._delete_versions(doc.tenant, doc.id, keep=keep)
            self.chunks.delete_document(doc.tenant, doc.id, keep_version=keep)
        log.info("chunks deleted", extra={"kept_version": keep})
        return None

    def _delete_versions(self, tenant: str, doc_id: str, keep: str | None) -> None:
        stale = {
            v: n for v, n in self.documents.written_versions(tenant, doc_id).items() if v != keep
        }
        ids = [chunk_id(tenant, doc_id, v, i) for v, n in stale.items() for i in range(n)]
        self.chunks.delete_ids(ids)
        self.documents.forget_written(tenant, doc_id, stale)

    def _rows(self, doc: DocumentEmbedded) -> list[dict[str, object]]:
        created = _epoch_ms(doc.accepted_at)
        indexed = int(time.time() * 1000)
        metadata = metadata_json(doc.metadata)
        return [
            {
                "chunk_id": chunk_id(doc.tenant, doc.id, doc.version, c.chunk),
                "doc_id": doc.id,
                "tenant": doc.tenant,
                "chunk": c.chunk,
                "title": doc.title,
                "text": c.text,
                "dense": c.vector,
                "metadata": metadata,
                "version": doc.version,
                "embedder": f"{doc.embedder.name}:{doc.embedder.version}",
                "created_at": created,
                "indexed_at": indexed,
            }
            for c in doc.chunks
        ]


def _epoch_ms(iso: str) -> int:
    from datetime import datetime

    return int(datetime.fromisoformat(iso).timestamp() * 1000)
