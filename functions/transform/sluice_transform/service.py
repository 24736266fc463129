"""Transform's logic, without HTTP: `document.accepted` events in, `document.embedded` out.

Events come one at a time (Knative) or in batches (RQ workers); a batch is chunked and
embedded together, so the embedder sees full batches whatever the documents' sizes. A file's
text is extracted first (`sluice.extract`, in a bounded child process); a file that cannot be
read fails its document with the reason, and the rest of the batch goes on.
"""

from __future__ import annotations

import logging
import time
from dataclasses import dataclass
from pathlib import PurePosixPath

from cloudevents.http import CloudEvent

from sluice.chunker import Chunk, chunk_blocks, search_text
from sluice.embedders import Embedder, Embedders, embed_in_batches
from sluice.embedders.identity import EmbedderIdentity
from sluice.errors import ValidationFailed
from sluice.events import (
    DOCUMENT_EMBEDDED,
    DocumentAccepted,
    DocumentEmbedded,
    EmbeddedChunk,
    FileRef,
    version_event,
)
from sluice.extract.formats import FORMATS
from sluice.extract.result import Block, Extracted, ExtractionFailed
from sluice.extract.sandbox import extract
from sluice.lifecycle import Status, Transition
from sluice.logs import document_context
from sluice.metrics import CHUNKS_PER_DOCUMENT, DOCUMENTS, EXTRACT_DURATION
from sluice.settings import ChunkerSettings, ExtractSettings
from sluice.stores.blobs import BlobStore
from sluice.stores.documents import DocumentStore
from sluice.stores.models import ModelStates
from sluice.tracing import continue_from, from_event

log = logging.getLogger(__name__)
SOURCE = "/sluice/transform"


@dataclass(frozen=True)
class _Prepared:
    """A document version ready to embed: its title and its chunks."""

    doc: DocumentAccepted
    title: str
    chunks: list[Chunk]


class TransformService:
    """Extracts files' text, chunks document versions and embeds their chunks in batches."""

    def __init__(
        self,
        chunker: ChunkerSettings,
        extract_settings: ExtractSettings,
        embedders: Embedders,
        models: ModelStates,
        documents: DocumentStore,
        blobs: BlobStore,
    ) -> None:
        self.chunker = chunker
        self.extract = extract_settings
        self.embedders = embedders
        self.models = models
        self.batch_size = embedders.settings.batch_size
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
        prepared: list[_Prepared] = []
        for doc, ok in zip(docs, started, strict=True):
            with document_context(doc.tenant, doc.id, spans[doc.ref()]):
                if not ok:
                    log.info("skipped: version %s is superseded or already indexed", doc.version)
                    continue
                ready = self._prepare(doc)
                if ready is not None:
                    prepared.append(ready)
        texts = [search_text(p.title, c.text, c.section) for p in prepared for c in p.chunks]
        embedder = self.embedder()
        vectors = iter(embed_in_batches(embedder, texts, self.batch_size))
        embedded = []
        for ready in prepared:
            with document_context(ready.doc.tenant, ready.doc.id, spans[ready.doc.ref()]):
                vectors_of = [next(vectors) for _ in ready.chunks]
                embedded.append(self._embedded(ready, embedder.identity, vectors_of))
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

    def embedder(self) -> Embedder:
        """The embedder of the active collection (it changes with `sluice models migrate`)."""
        return self.embedders.get(self.models.active_embedder(self.embedders.settings.identity()))

    def _prepare(self, doc: DocumentAccepted) -> _Prepared | None:
        """The version's title and chunks; None (and the version failed) if its file cannot be
        read."""
        if doc.file is None:
            extracted = Extracted(title=doc.title, blocks=[Block(doc.text)])
        else:
            try:
                extracted = self._extract(doc.file)
            except ExtractionFailed as exc:
                self._fail(doc, f"cannot read {_name(doc.file)}: {exc}")
                return None
        _, chunks = chunk_blocks(extracted.blocks, self.chunker.size, self.chunker.overlap)
        title = doc.title or extracted.title or _stem(doc.file)
        return _Prepared(doc, title, chunks)

    def _extract(self, file: FileRef) -> Extracted:
        try:
            data = self.blobs.get_file(file)
        except ValidationFailed as exc:
            raise ExtractionFailed(exc.message) from None
        kind = FORMATS.get(file.media_type, "unknown")
        started, outcome = time.perf_counter(), "failed"
        try:
            if kind == "unknown":
                raise ExtractionFailed(f"Sluice does not read {file.media_type} files")
            extracted = extract(data, file.media_type, file.charset, self.extract.limits())
            size = sum(len(block.text.encode("utf-8")) for block in extracted.blocks)
            if size > self.extract.max_text_bytes:
                raise ExtractionFailed(
                    f"its text is {size} bytes; the limit is {self.extract.max_text_bytes} "
                    "(extract.max_text_bytes): split the file"
                )
            if not extracted.blocks:
                raise ExtractionFailed("the file holds no text")
            outcome = "ok"
            log.info(
                "extracted",
                extra={"format": kind, "bytes": file.size, "characters": extracted.characters()},
            )
            return extracted
        finally:
            EXTRACT_DURATION.labels(kind, outcome).observe(time.perf_counter() - started)

    def _fail(self, doc: DocumentAccepted, reason: str) -> None:
        if self.documents.mark_failed([doc.ref()], reason):
            DOCUMENTS.labels(Status.FAILED).inc()
        log.warning("failed: %s", reason, extra={"version": doc.version})

    def _embedded(
        self, ready: _Prepared, identity: EmbedderIdentity, vectors: list[list[float]]
    ) -> DocumentEmbedded:
        doc, chunks = ready.doc, ready.chunks
        CHUNKS_PER_DOCUMENT.observe(len(chunks))
        log.info("embedded", extra={"version": doc.version, "chunks": len(chunks)})
        return DocumentEmbedded(
            id=doc.id,
            tenant=doc.tenant,
            version=doc.version,
            title=ready.title,
            metadata=doc.metadata,
            accepted_at=doc.accepted_at,
            embedder=identity,
            chunks=[
                EmbeddedChunk(
                    chunk=c.number,
                    start=c.start,
                    end=c.end,
                    text=c.text,
                    vector=v,
                    page=c.page,
                    page_end=c.page_end,
                    section=c.section,
                )
                for c, v in zip(chunks, vectors, strict=True)
            ],
        )


def _name(file: FileRef) -> str:
    return repr(file.name) if file.name else f"the {file.media_type} file"


def _stem(file: FileRef | None) -> str:
    return PurePosixPath(file.name).stem[:1024] if file is not None and file.name else ""
