"""Transform's logic, without HTTP: a `document.accepted` in, a `document.embedded` out."""

from __future__ import annotations

import logging
import time

from cloudevents.http import CloudEvent

from sluice.chunker import chunk_text
from sluice.embedders import Embedder
from sluice.events import (
    DOCUMENT_EMBEDDED,
    DocumentAccepted,
    DocumentEmbedded,
    EmbeddedChunk,
    make_event,
)
from sluice.metrics import CHUNKS_PER_DOCUMENT, DOCUMENTS, EMBED_BATCH_SIZE, EMBED_DURATION
from sluice.settings import ChunkerSettings
from sluice.stores.blobs import BlobStore
from sluice.stores.documents import DocumentStore, Status

log = logging.getLogger(__name__)
SOURCE = "/sluice/transform"


class TransformService:
    """Chunks a document version and embeds its chunks in batches."""

    def __init__(
        self,
        chunker: ChunkerSettings,
        embedder: Embedder,
        batch_size: int,
        documents: DocumentStore,
        blobs: BlobStore,
    ) -> None:
        self.chunker = chunker
        self.embedder = embedder
        self.batch_size = batch_size
        self.documents = documents
        self.blobs = blobs

    def handle(self, event: CloudEvent) -> CloudEvent | None:
        """The embedded event, or None if this version is no longer current or already done."""
        doc = self.blobs.unwrap(event.data, DocumentAccepted)
        if not self.documents.transition(
            doc.tenant,
            doc.id,
            doc.version,
            Status.TRANSFORMING,
            [Status.ACCEPTED, Status.TRANSFORMING, Status.EMBEDDED, Status.FAILED],
        ):
            log.info("skipped: version %s is no longer current or already indexed", doc.version)
            return None
        chunks = chunk_text(doc.text, self.chunker.size, self.chunker.overlap)
        vectors = self.embed([c.text for c in chunks])
        embedded = DocumentEmbedded(
            id=doc.id,
            tenant=doc.tenant,
            version=doc.version,
            title=doc.title,
            metadata=doc.metadata,
            accepted_at=doc.accepted_at,
            embedder=self.embedder.info,
            chunks=[
                EmbeddedChunk(chunk=c.number, start=c.start, end=c.end, text=c.text, vector=v)
                for c, v in zip(chunks, vectors, strict=True)
            ],
        )
        CHUNKS_PER_DOCUMENT.observe(len(chunks))
        if self.documents.transition(
            doc.tenant,
            doc.id,
            doc.version,
            Status.EMBEDDED,
            [Status.TRANSFORMING],
            chunks=len(chunks),
        ):
            DOCUMENTS.labels(Status.EMBEDDED).inc()
        log.info("embedded", extra={"chunks": len(chunks)})
        return make_event(
            DOCUMENT_EMBEDDED,
            SOURCE,
            self.blobs.wrap(embedded),
            subject=doc.id,
            tenant=doc.tenant,
            version=doc.version,
        )

    def embed(self, texts: list[str]) -> list[list[float]]:
        """Embed texts in batches of `batch_size`."""
        vectors: list[list[float]] = []
        for start in range(0, len(texts), self.batch_size):
            batch = texts[start : start + self.batch_size]
            began = time.perf_counter()
            vectors.extend(self.embedder.embed(batch))
            EMBED_DURATION.observe(time.perf_counter() - began)
            EMBED_BATCH_SIZE.observe(len(batch))
        return vectors
