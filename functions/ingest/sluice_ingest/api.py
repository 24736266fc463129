"""Ingest's HTTP routes: submit (JSON or CloudEvent), status, delete."""

from __future__ import annotations

from typing import Any

from flask import Request, Response

from sluice import codec
from sluice.errors import ValidationFailed
from sluice.events import DOCUMENT_SUBMITTED, TENANT_PATTERN, DocumentBatch, DocumentIn, is_valid_id
from sluice.http import FunctionApp, Route, json_response, read_body, require_json, shorten
from sluice.logs import log_context
from sluice.metrics import EVENTS
from sluice.tracing import TraceContext, continue_from, from_event, from_headers
from sluice_ingest.auth import Authenticator
from sluice_ingest.service import IngestService


class IngestApi:
    """Turns requests into service calls and results into JSON."""

    def __init__(self, service: IngestService, auth: Authenticator, max_body_bytes: int) -> None:
        self.service = service
        self.auth = auth
        self.max_body_bytes = max_body_bytes

    def app(self, readiness: Any) -> FunctionApp:
        """The function's routes (POST / takes the same submissions as POST /documents)."""
        return FunctionApp(
            "ingest",
            [
                Route("/", ("POST",), self.submit),
                Route("/documents", ("POST",), self.submit),
                Route("/documents/<doc_id>", ("GET",), self.status),
                Route("/documents/<doc_id>", ("DELETE",), self.delete),
            ],
            readiness,
        )

    def submit(self, request: Request) -> Response:
        """Accept one document or a batch, as JSON or as a `document.submitted` CloudEvent."""
        self.auth.tenant(request)  # 401 before reading a byte of an unauthenticated body
        body = read_body(request, self.max_body_bytes)
        if codec.is_event(request.headers) and request.mimetype != codec.BATCH:
            (event,), _ = codec.decode(request.headers, body, [DOCUMENT_SUBMITTED])
            EVENTS.labels("ingest", "in", event["type"]).inc()
            data: Any = event.data
            # The event's own trace (distributed-tracing extension) first, then the request's.
            span = continue_from(from_event(event), from_headers(request.headers))
        else:
            require_json(request)
            data = codec.parse_json(body)
            span = continue_from(from_headers(request.headers))
        with log_context(**span.log_fields()):
            return self._submit(request, data, span)

    def _submit(self, request: Request, data: Any, span: TraceContext) -> Response:
        single, batch = _documents(data)
        tenants = {d.tenant for d in batch}
        if len(tenants) > 1:
            raise ValidationFailed(
                "all documents of a batch must name the same tenant", code="mixed_tenants"
            )
        tenant = self.auth.tenant(request, tenants.pop())
        results = [r.to_json() for r in self.service.submit(batch, tenant, span)]
        return json_response(202, results[0] if single else {"documents": results})

    def status(self, request: Request, doc_id: str) -> Response:
        """The document's status record."""
        tenant = self._tenant_from_query(request)
        _check_id(doc_id)
        return json_response(200, self.service.status(tenant, doc_id).to_json())

    def delete(self, request: Request, doc_id: str) -> Response:
        """Delete the document and its chunks."""
        tenant = self._tenant_from_query(request)
        _check_id(doc_id)
        span = continue_from(from_headers(request.headers))
        with log_context(**span.log_fields()):
            return json_response(202, self.service.delete(tenant, doc_id, span).to_json())

    def _tenant_from_query(self, request: Request) -> str:
        claimed = request.args.get("tenant")
        if claimed is not None and not is_valid_id(claimed, TENANT_PATTERN):
            raise ValidationFailed(
                f"tenant {shorten(claimed)!r} is not a valid tenant name", code="invalid_tenant"
            )
        return self.auth.tenant(request, claimed)


def _documents(data: Any) -> tuple[bool, list[DocumentIn]]:
    """(whether it was a single document, the documents) from a submission payload."""
    if not isinstance(data, dict):
        raise ValidationFailed(
            'expected a JSON object: a document or {"documents": [...]}', code="invalid_payload"
        )
    if "documents" in data:
        return False, DocumentBatch.model_validate(data).documents
    return True, [DocumentIn.model_validate(data)]


def _check_id(doc_id: str) -> None:
    if not is_valid_id(doc_id):
        raise ValidationFailed(f"{shorten(doc_id)!r} is not a valid document id", code="invalid_id")
