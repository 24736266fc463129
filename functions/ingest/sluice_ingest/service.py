"""Ingest's logic, without HTTP: accept documents, skip unchanged ones, publish the rest."""

from __future__ import annotations

import hashlib
import json
import logging
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any
from urllib.parse import quote

from sluice.embedders.identity import EmbedderIdentity
from sluice.errors import NotFound, PayloadTooLarge, TooManyRequests, Unavailable, ValidationFailed
from sluice.events import (
    DEFAULT_TENANT,
    DOCUMENT_ACCEPTED,
    DOCUMENT_DELETED,
    DocumentAccepted,
    DocumentDeleted,
    DocumentFields,
    DocumentIn,
    FileRef,
    file_version,
    make_event,
    now_iso,
    version_event,
)
from sluice.lifecycle import DocumentRecord, Status
from sluice.logs import log_context
from sluice.metrics import DOCUMENTS
from sluice.routing import Router
from sluice.settings import IngestSettings
from sluice.stores.blobs import BlobStore
from sluice.stores.documents import DocumentPage, DocumentStore
from sluice.stores.models import ModelStates
from sluice.tracing import TraceContext
from sluice_ingest.files import FileIn

log = logging.getLogger(__name__)
SOURCE = "/sluice/ingest"


@dataclass(frozen=True)
class Submitted:
    """The outcome for one submitted document."""

    id: str
    version: str
    status: Status
    status_url: str

    def to_json(self) -> dict[str, str]:
        """As returned to the client."""
        return {
            "id": self.id,
            "version": self.version,
            "status": self.status,
            "status_url": self.status_url,
        }


class IngestService:
    """Accepts, looks up and deletes documents."""

    def __init__(
        self,
        settings: IngestSettings,
        documents: DocumentStore,
        blobs: BlobStore,
        router: Router,
        keys_required: bool,
        identity: EmbedderIdentity,
        models: ModelStates,
    ) -> None:
        self.settings = settings
        # a version indexed by another embedder than the active one is accepted again
        self.identity = identity
        self.models = models
        self.documents = documents
        self.blobs = blobs
        self.router = router
        # Without keys the tenant is the caller's to name, so status URLs carry it.
        self.tenant_in_url = not keys_required

    def submit(
        self,
        batch: Sequence[DocumentIn | FileIn],
        tenant: str,
        trace: TraceContext | None = None,
    ) -> list[Submitted]:
        """Record and publish every new document version (a file's bytes parked for transform
        first); all-or-nothing validation first. The events carry `trace` (the span of the
        request that submitted them)."""
        self._check_batch(batch)
        depth = self.router.depth(DOCUMENT_ACCEPTED)
        if depth > self.settings.queue_bound:
            raise TooManyRequests(
                f"{depth} delivery jobs wait (bound {self.settings.queue_bound}); retry later",
                retry_after=self.settings.retry_after_seconds,
            )
        accepted_at = now_iso()
        sources = [self._source(item, tenant, accepted_at) for item in batch]
        # Each version's record, source and in-flight entry are written together: if ingest
        # dies before the events are published, the reconciler publishes them from the source.
        outcomes = self.documents.accept_many(
            sources, self.models.active_embedder(self.identity).key
        )
        results = [
            Submitted(
                source.id,
                source.version,
                Status.ACCEPTED if accepted else Status.UNCHANGED,
                self.status_url(source.id, tenant),
            )
            for source, accepted in zip(sources, outcomes, strict=True)
        ]
        events = [
            version_event(DOCUMENT_ACCEPTED, SOURCE, source, self.blobs.wrap(source), trace)
            for source, accepted in zip(sources, outcomes, strict=True)
            if accepted
        ]
        self._publish(events, [r for r in results if r.status == Status.ACCEPTED], tenant)
        for result in results:
            DOCUMENTS.labels(result.status).inc()
            with log_context(document_id=result.id, tenant=tenant):
                log.info("document %s", result.status, extra={"version": result.version})
        return results

    def _source(self, item: DocumentIn | FileIn, tenant: str, accepted_at: str) -> DocumentAccepted:
        """The `document.accepted` payload of a submitted document or file."""
        if isinstance(item, DocumentIn):
            return DocumentAccepted(
                id=item.id or hashlib.sha256(item.text.encode()).hexdigest()[:32],
                tenant=tenant,
                version=item.content_version(),
                title=item.title,
                text=item.text,
                metadata=item.metadata,
                accepted_at=accepted_at,
            )
        fields = item.fields
        key, digest = self.blobs.put_file(item.data)
        return DocumentAccepted(
            id=fields.id or digest[:32],
            tenant=tenant,
            version=file_version(digest, item.media_type, fields.title, fields.metadata),
            title=fields.title,
            text="",
            metadata=fields.metadata,
            accepted_at=accepted_at,
            file=FileRef(
                key=key,
                sha256=digest,
                size=len(item.data),
                media_type=item.media_type,
                charset=item.charset,
                name=item.name,
            ),
        )

    def status(self, tenant: str, doc_id: str) -> DocumentRecord:
        """The document's record; 404 if unknown."""
        record = self.documents.get(tenant, doc_id)
        if record is None:
            raise NotFound(f"document {doc_id!r} is unknown", code="document_not_found")
        return record

    def page(
        self, tenant: str, *, status: Status | None, prefix: str, after: str | None, limit: int
    ) -> DocumentPage:
        """A page of the tenant's records in id order (see `DocumentStore.page`)."""
        return self.documents.page(tenant, status=status, prefix=prefix, after=after, limit=limit)

    def delete(self, tenant: str, doc_id: str, trace: TraceContext | None = None) -> Submitted:
        """Mark the document deleted and ask index to remove its chunks; 404 if unknown."""
        record = self.documents.get(tenant, doc_id)
        if record is None or not self.documents.mark_deleted(tenant, doc_id):
            raise NotFound(f"document {doc_id!r} is unknown", code="document_not_found")
        event = make_event(
            DOCUMENT_DELETED,
            SOURCE,
            DocumentDeleted(id=doc_id, tenant=tenant, deleted_at=now_iso()),
            subject=doc_id,
            tenant=tenant,
            trace=trace,
        )
        self.router.publish([event])
        DOCUMENTS.labels(Status.DELETED).inc()
        with log_context(document_id=doc_id, tenant=tenant):
            log.info("document deleted")
        return Submitted(doc_id, record.version, Status.DELETED, self.status_url(doc_id, tenant))

    def status_url(self, doc_id: str, tenant: str) -> str:
        """Where the client can follow the document."""
        url = f"{self.settings.public_url.rstrip('/')}/documents/{quote(doc_id, safe='')}"
        if self.tenant_in_url and tenant != DEFAULT_TENANT:
            url += f"?tenant={quote(tenant)}"
        return url

    def _check_batch(self, batch: Sequence[DocumentIn | FileIn]) -> None:
        if len(batch) > self.settings.max_batch_documents:
            raise PayloadTooLarge(
                f"{len(batch)} documents in one request; the limit is "
                f"{self.settings.max_batch_documents}",
                code="batch_too_large",
            )
        seen: set[str] = set()
        for index, item in enumerate(batch):
            document: DocumentFields
            if isinstance(item, FileIn):
                self._check_file(item)
                document = item.fields
            else:
                document = item
                size = len(item.text.encode("utf-8"))
                if size > self.settings.max_document_bytes:
                    raise PayloadTooLarge(
                        f"documents[{index}].text is {size} bytes; the limit is "
                        f"{self.settings.max_document_bytes}",
                        code="document_too_large",
                    )
            metadata = len(json.dumps(document.metadata).encode("utf-8"))
            if metadata > self.settings.max_metadata_bytes:
                raise PayloadTooLarge(
                    f"documents[{index}].metadata is {metadata} bytes; the "
                    f"limit is {self.settings.max_metadata_bytes}",
                    code="metadata_too_large",
                )
            if document.id is not None:
                if document.id in seen:
                    raise ValidationFailed(
                        f"documents[{index}].id {document.id!r} appears twice in the batch",
                        code="duplicate_id",
                    )
                seen.add(document.id)

    def _check_file(self, file: FileIn) -> None:
        name = repr(file.name) if file.name else "the file"
        if len(file.data) > self.settings.max_file_bytes:
            raise PayloadTooLarge(
                f"{name} is {len(file.data)} bytes; the limit is {self.settings.max_file_bytes} "
                "(ingest.max_file_bytes)",
                code="file_too_large",
            )
        if not file.data:
            raise ValidationFailed(f"{name} is empty", code="empty_file")

    def _publish(self, events: list[Any], accepted: list[Submitted], tenant: str) -> None:
        try:
            self.router.publish(events)
        except Exception as exc:
            # failed, so that a resubmission is accepted again
            self.documents.mark_failed(
                [(tenant, r.id, r.version) for r in accepted], f"could not enqueue: {exc}"
            )
            raise Unavailable(
                f"could not enqueue the documents, resubmit them: {exc}", code="enqueue_failed"
            ) from exc
