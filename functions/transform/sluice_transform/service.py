"""Transform's logic, without HTTP: `document.accepted` events in, `document.embedded` out.

Events come one at a time (Knative) or in batches (RQ workers); a batch is chunked and
embedded together, so the embedder sees full batches whatever the documents' sizes.
"""

from __future__ import annotations

import logging

from cloudevents.http import CloudEvent

from sluice.chunker import Chunk, chunk_text, search_text
from sluice.embedders import Embedder, embed_in_batches
from sluice.events import (
    DOCUMENT_EMBEDDED,
    DocumentAccepted,
    DocumentEmbedded,
    EmbeddedChunk,
    version_event,
)
from sluice.lifecycle import Status, Transition
from sluice.logs import document_context
from sluice.metrics import CHUNKS_PER_DOCUMENT, DOCUMENTS
from sluice.settings import ChunkerSettings
from sluice.stores.blobs import BlobStore
from sluice.stores.documents import DocumentStore
from sluice.tracing import continue_from, from_event

log = logging.getLogger(__name__)
SOURCE = "/sluice/transform"


class TransformService:
    """Chunks document versions and embeds their chunks in batches."""

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

    def handle(self, events: list[CloudEvent]) -> list[CloudEvent]:
        """One `document.embedded` per current version; superseded or indexed ones are skipped."""
        docs = [self.blobs.unwrap(event.data, DocumentAccepted) for event in events]
        # Each document's span: a child of the one that emitted its event (its trace goes on).
        spans = {d.ref(): continue_from(from_event(e)) for d, e in zip(docs, events, strict=True)}
        started = self.documents.transition_many(
            [Transition(d.tenant, d.id, d.version, Status.TRANSFORMING) for d in docs]
        )
        current = [d for d, ok in zip(docs, started, strict=True) if ok]
        for doc, ok in zip(docs, started, strict=True):
            if not ok:
                with document_context(doc.tenant, doc.id, spans[doc.ref()]):
                    log.info("skipped: version %s is superseded or already indexed", doc.version)
        chunked = [chunk_text(d.text, self.chunker.size, self.chunker.overlap) for d in current]
        texts = [
            search_text(doc.title, c.text)
            for doc, chunks in zip(current, chunked, strict=True)
            for c in chunks
        ]
        vectors = iter(embed_in_batches(self.embedder, texts, self.batch_size))
        embedded = []
        for doc, chunks in zip(current, chunked, strict=True):
            with document_context(doc.tenant, doc.id, spans[doc.ref()]):
                embedded.append(self._embedded(doc, chunks, [next(vectors) for _ in chunks]))
        done = self.documents.transition_many(
            [
                Transition(d.tenant, d.id, d.version, Status.EMBEDDED, {"chunks": len(d.chunks)})
                for d in embedded
            ]
        )
        DOCUMENTS.labels(Status.EMBEDDED).inc(sum(done))
        return [
            version_event(
                DOCUMENT_EMBEDDED, SOURCE, doc, self.blobs.wrap(doc), trace=spans[doc.ref()]
            )
            for doc in embedded
        ]

    def _embedded(
        self, doc: DocumentAccepted, chunks: list[Chunk], vectors: list[list[float]]
    ) -> DocumentEmbedded:
        CHUNKS_PER_DOCUMENT.observe(len(chunks))
        log.info("embedded", extra={"version": doc.version, "chunks": len(chunks)})
        return DocumentEmbedded(
            id=doc.id,
            tenant=doc.tenant,
            version=doc.version,
            title=doc.title,
            metadata=doc.metadata,
            accepted_at=doc.accepted_at,
            embedder=self.embedder.identity,
            chunks=[
                EmbeddedChunk(chunk=c.number, start=c.start, end=c.end, text=c.text, vector=v)
                for c, v in zip(chunks, vectors, strict=True)
            ],
        )
