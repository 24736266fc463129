"""Index's logic, without HTTP: upsert versions' chunks, then drop older versions' chunks.

Events come one at a time (Knative) or in batches (RQ workers); a batch is written with one
Milvus upsert. Writes for a document are serialised by a Redis lock and checked, under it,
against the document's record: a late event for a superseded version writes nothing. Versions
that may have rows in Milvus are recorded before writing, so their chunks can be deleted later
by primary key (cheap) rather than by a filter scan.

Every collection the model state keeps is written (`sluice.stores.models`): a version goes into
the collection of the embedder that made its vectors, and is filed as pending for the other one,
which the models function fills by re-embedding; deletes go to both at once.
"""

from __future__ import annotations

import logging
from contextlib import AbstractContextManager
from datetime import datetime

from cloudevents.http import CloudEvent

from sluice.embedders.identity import EmbedderIdentity
from sluice.errors import ValidationFailed
from sluice.events import (
    DOCUMENT_INDEXED,
    DocumentDeleted,
    DocumentEmbedded,
    DocumentIndexed,
    now_iso,
    version_event,
)
from sluice.lifecycle import ALLOWED_FROM, Status, Transition
from sluice.logs import document_context
from sluice.metrics import DOCUMENT_FRESHNESS, DOCUMENTS
from sluice.settings import IndexSettings
from sluice.stores.blobs import BlobStore
from sluice.stores.documents import DocRef, DocumentStore
from sluice.stores.milvus import ChunkStores, chunk_id, chunk_rows
from sluice.stores.models import ModelState, ModelStates
from sluice.tracing import TraceContext, continue_from, from_event

log = logging.getLogger(__name__)
SOURCE = "/sluice/index"


class IndexService:
    """Keeps Milvus in step with the document records."""

    def __init__(
        self,
        chunks: ChunkStores,
        documents: DocumentStore,
        blobs: BlobStore,
        models: ModelStates,
        identity: EmbedderIdentity,
        locks: IndexSettings,
    ) -> None:
        self.chunks = chunks
        self.documents = documents
        self.blobs = blobs
        self.models = models
        self.default = chunks.default(identity)  # active until the first model change
        self.locks = locks
        self._started = False

    def state(self) -> ModelState:
        """The model state; the first call of the process records the default one if there is
        none, creating its collection and pointing the alias at it (a first start, or an
        upgrade to a new schema version)."""
        if self._started:
            return self.models.get(self.default)
        state, created = self.models.get_or_create(self.default)
        self.chunks.of(state.active, point_alias=created, create=True)
        self._started = True
        return state

    def ping(self) -> None:
        """Raise `Unavailable` unless the active collection answers."""
        self.chunks.of(self.state().active).ping()

    def handle_embedded(self, events: list[CloudEvent]) -> list[CloudEvent]:
        """Write each current version's chunks; one `document.indexed` per version written."""
        docs = [self.blobs.unwrap(event.data, DocumentEmbedded) for event in events]
        spans = {d.ref(): continue_from(from_event(e)) for d, e in zip(docs, events, strict=True)}
        self.state()
        with self._locked([(d.tenant, d.id) for d in docs]):
            # read under the locks, after the versions were accepted: a model change that began
            # before is seen here, one that begins later lists these documents itself
            state = self.models.get(self.default)
            for doc in docs:
                if state.serving(doc.embedder) is None:
                    raise ValidationFailed(
                        f"document {doc.id} was embedded with {doc.embedder.key}, which no "
                        f"collection holds any more (they hold "
                        f"{', '.join(s.embedder.key for s in state.served())}): submit it again",
                        code="embedder_mismatch",
                    )
            todo = self._current(docs, spans)
            self.documents.record_written(
                [(d.tenant, d.id, d.version, len(d.chunks)) for d in todo]
            )
            for served in state.served():
                mine = [d for d in todo if d.embedder == served.embedder]
                store = self.chunks.of(served)
                store.upsert([row for doc in mine for row in chunk_rows(doc, store.analyzer)])
                others = [s.collection for s in state.served() if s != served]
                self.models.add_pending(others, [(d.tenant, d.id) for d in mine])
            self._delete_versions(
                state, [(d.tenant, d.id) for d in todo], [d.version for d in todo]
            )
            indexed_at = now_iso()
            done = self.documents.transition_many(
                [
                    Transition(
                        d.tenant,
                        d.id,
                        d.version,
                        Status.INDEXED,
                        {
                            "chunks": len(d.chunks),
                            "indexed_at": indexed_at,
                            "error": "",
                            "embedder": d.embedder.key,
                        },
                    )
                    for d in todo
                ]
            )
        # Only the transition to indexed counts: a redelivered event finds the version indexed
        # already and transitions nothing, so each version is observed once.
        indexed = [d for d, ok in zip(todo, done, strict=True) if ok]
        DOCUMENTS.labels(Status.INDEXED).inc(len(indexed))
        for doc in indexed:
            freshness = _seconds_between(doc.accepted_at, indexed_at)
            DOCUMENT_FRESHNESS.observe(freshness)
            with document_context(doc.tenant, doc.id, spans[doc.ref()]):
                log.info(
                    "indexed",
                    extra={
                        "version": doc.version,
                        "chunks": len(doc.chunks),
                        "freshness_seconds": round(freshness, 3),
                    },
                )
        return [
            version_event(
                DOCUMENT_INDEXED,
                SOURCE,
                DocumentIndexed(
                    id=d.id,
                    tenant=d.tenant,
                    version=d.version,
                    chunks=len(d.chunks),
                    indexed_at=indexed_at,
                ),
                trace=spans[d.ref()],
            )
            for d in indexed
        ]

    def handle_deleted(self, events: list[CloudEvent]) -> list[CloudEvent]:
        """Remove documents' chunks (keeping a version resubmitted since the delete)."""
        docs = [DocumentDeleted.model_validate(event.data) for event in events]
        refs = [(d.tenant, d.id) for d in docs]
        spans = [continue_from(from_event(e)) for e in events]
        self.state()
        with self._locked(refs):
            state = self.models.get(self.default)
            records = self.documents.get_many(refs)
            keep = [r.version if r and r.status != Status.DELETED else None for r in records]
            self._delete_versions(state, refs, keep)
            for (tenant, doc_id), kept, span in zip(refs, keep, spans, strict=True):
                for served in state.served():
                    self.chunks.of(served).delete_document(tenant, doc_id, keep_version=kept)
                with document_context(tenant, doc_id, span):
                    log.info("chunks deleted", extra={"kept_version": kept})
        return []

    def _locked(self, refs: list[DocRef]) -> AbstractContextManager[None]:
        """The documents' write locks (see `DocumentStore.locked`)."""
        return self.documents.locked(
            refs, wait=self.locks.lock_timeout_seconds, ttl=self.locks.lock_ttl_seconds
        )

    def _current(
        self, docs: list[DocumentEmbedded], spans: dict[tuple[str, str, str], TraceContext]
    ) -> list[DocumentEmbedded]:
        """The versions still current and not yet indexed (each once)."""
        records = self.documents.get_many([(d.tenant, d.id) for d in docs])
        todo: dict[tuple[str, str, str], DocumentEmbedded] = {}
        for doc, record in zip(docs, records, strict=True):
            if (
                record is not None
                and record.version == doc.version
                and record.status in ALLOWED_FROM[Status.INDEXED]
            ):
                todo[(doc.tenant, doc.id, doc.version)] = doc
            else:
                with document_context(doc.tenant, doc.id, spans[doc.ref()]):
                    log.info(
                        "skipped: version %s is superseded, deleted or already indexed", doc.version
                    )
        return list(todo.values())

    def _delete_versions(
        self, state: ModelState, refs: list[DocRef], keep: list[str | None]
    ) -> None:
        """Delete the chunks of every written version of each document but the kept one, in
        every collection (chunk ids are the same in all of them)."""
        stale = [
            {v: n for v, n in written.items() if v != kept}
            for written, kept in zip(self.documents.written_versions(refs), keep, strict=True)
        ]
        ids = [
            chunk_id(tenant, doc_id, version, n)
            for (tenant, doc_id), versions in zip(refs, stale, strict=True)
            for version, count in versions.items()
            for n in range(count)
        ]
        for served in state.served():
            self.chunks.of(served).delete_ids(ids)
        self.documents.forget_written(
            [
                (tenant, doc_id, list(versions))
                for (tenant, doc_id), versions in zip(refs, stale, strict=True)
            ]
        )


def _seconds_between(start: str, end: str) -> float:
    """Seconds from one ISO 8601 time to another (0 if the clocks of two hosts disagree)."""
    return max(0.0, (datetime.fromisoformat(end) - datetime.fromisoformat(start)).total_seconds())
