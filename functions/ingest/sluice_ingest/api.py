"""Ingest's HTTP routes: submit (JSON, files or CloudEvent), list, status, delete, and the
tenant's dead letters."""

from __future__ import annotations

import base64
import binascii
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from flask import Request, Response
from pydantic import BaseModel, ConfigDict, Field, StrictBool, model_validator

from sluice import codec
from sluice.errors import ValidationFailed
from sluice.events import (
    DOCUMENT_SUBMITTED,
    TENANT_PATTERN,
    DocumentBatch,
    DocumentIn,
    is_valid_id,
)
from sluice.http import FunctionApp, Route, json_response, read_body, require_json, shorten
from sluice.lifecycle import Status
from sluice.logs import log_context
from sluice.metrics import EVENTS
from sluice.stores.documents import STORED_STATUSES
from sluice.tracing import TraceContext, continue_from, from_event, from_headers
from sluice_ingest.auth import Authenticator
from sluice_ingest.files import MULTIPART, FileIn, file_from_request, files_from_form, is_file
from sluice_ingest.service import IngestService

if TYPE_CHECKING:
    from sluice.rq.dlq import DeadLetters  # imports rq: only on the dead-letter routes

DEFAULT_PAGE, MAX_PAGE = 20, 100
MAX_PREFIX = 256


class Replay(BaseModel):
    """The body of `POST /dead-letters/replay`: the jobs to replay, or all of them."""

    model_config = ConfigDict(extra="forbid")

    job_ids: list[str] | None = Field(None, min_length=1, max_length=1000)
    all: StrictBool = False

    @model_validator(mode="after")
    def _one_of(self) -> Replay:
        if (self.job_ids is None) == (not self.all):
            raise ValueError('send {"job_ids": [...]} or {"all": true}')
        return self


class IngestApi:
    """Turns requests into service calls and results into JSON."""

    def __init__(
        self,
        service: IngestService,
        auth: Authenticator,
        dead_letters: DeadLetters,
        max_body_bytes: int,
    ) -> None:
        self.service = service
        self.auth = auth
        self.dead_letters = dead_letters
        self.max_body_bytes = max_body_bytes

    def app(self, readiness: Any) -> FunctionApp:
        """The function's routes (POST / takes the same submissions as POST /documents)."""
        return FunctionApp(
            "ingest",
            [
                Route("/", ("POST",), self.submit),
                Route("/documents", ("POST",), self.submit),
                Route("/documents", ("GET",), self.list_documents),
                Route("/documents/<doc_id>", ("GET",), self.status),
                Route("/documents/<doc_id>", ("DELETE",), self.delete),
                Route("/dead-letters", ("GET",), self.list_dead_letters),
                Route("/dead-letters/replay", ("POST",), self.replay_dead_letters),
            ],
            readiness,
        )

    def submit(self, request: Request) -> Response:
        """Accept one document or a batch: as JSON, as a file (the body, with its media type),
        as files (multipart/form-data) or as a `document.submitted` CloudEvent."""
        self.auth.tenant(request)  # 401 before reading a byte of an unauthenticated body
        body = read_body(request, self.max_body_bytes)
        is_event = codec.is_event(request.headers)
        if not is_event and (request.mimetype == MULTIPART or is_file(request)):
            files = (
                files_from_form(
                    body,
                    request.mimetype,
                    request.mimetype_params,
                    self.service.settings.max_batch_documents,
                )
                if request.mimetype == MULTIPART
                else [file_from_request(request, body)]
            )
            span = continue_from(from_headers(request.headers))
            with log_context(**span.log_fields()):
                return self._submit_batch(
                    request, files, span, single=request.mimetype != MULTIPART
                )
        if is_event and request.mimetype != codec.BATCH:
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
        return self._submit_batch(request, batch, span, single=single)

    def _submit_batch(
        self,
        request: Request,
        batch: Sequence[DocumentIn | FileIn],
        span: TraceContext,
        *,
        single: bool,
    ) -> Response:
        tenants = {d.fields.tenant if isinstance(d, FileIn) else d.tenant for d in batch}
        if len(tenants) > 1:
            raise ValidationFailed(
                "all documents of a batch must name the same tenant", code="mixed_tenants"
            )
        tenant = self.auth.tenant(request, tenants.pop())
        results = [r.to_json() for r in self.service.submit(batch, tenant, span)]
        return json_response(202, results[0] if single else {"documents": results})

    def list_documents(self, request: Request) -> Response:
        """A page of the tenant's records in id order: `?status=&prefix=&limit=&cursor=`."""
        tenant = self._tenant_from_query(request)
        status = _status(request.args.get("status"))
        prefix = request.args.get("prefix", "")
        if len(prefix) > MAX_PREFIX:
            raise ValidationFailed(
                f"prefix is {len(prefix)} characters; the limit is {MAX_PREFIX}",
                code="invalid_prefix",
            )
        limit = _limit(request.args.get("limit"))
        after = _after(request.args.get("cursor"))
        page = self.service.page(tenant, status=status, prefix=prefix, after=after, limit=limit)
        return json_response(
            200,
            {
                "documents": [record.to_json() for record in page.records],
                "next_cursor": _cursor(page.last_id),
                "total": page.total,
                "limit": limit,
            },
        )

    def list_dead_letters(self, request: Request) -> Response:
        """The dead-lettered events of the tenant's jobs (of every job without API keys and
        without `?tenant=`)."""
        entries = self.dead_letters.entries(self._dead_letter_scope(request))
        return json_response(200, {"dead_letters": entries})

    def replay_dead_letters(self, request: Request) -> Response:
        """Deliver the named dead-lettered jobs (or all) of the tenant again."""
        scope = self._dead_letter_scope(request)
        require_json(request)
        replay = Replay.model_validate(codec.parse_json(read_body(request, 1 << 20)))
        job_ids = None if replay.all else set(replay.job_ids or ())
        replayed = self.dead_letters.replay(job_ids, scope)
        return json_response(200, {"replayed": replayed})

    def _dead_letter_scope(self, request: Request) -> str | None:
        """The tenant whose dead letters the request sees: its key's; without keys the one
        `?tenant=` names, or every tenant's."""
        tenant = self._tenant_from_query(request)
        if self.auth.enabled or request.args.get("tenant") is not None:
            return tenant
        return None

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


def _status(raw: str | None) -> Status | None:
    if raw is None or raw == "":
        return None
    if raw not in STORED_STATUSES:
        raise ValidationFailed(
            f"status {shorten(raw)!r} is not one of {', '.join(STORED_STATUSES)}",
            code="invalid_status",
        )
    return Status(raw)


def _limit(raw: str | None) -> int:
    if raw is None:
        return DEFAULT_PAGE
    if not (raw.isascii() and raw.isdigit()) or not 1 <= int(raw) <= MAX_PAGE:
        raise ValidationFailed(
            f"limit {shorten(raw)!r} is not a whole number from 1 to {MAX_PAGE}",
            code="invalid_limit",
        )
    return int(raw)


def _cursor(last_id: str | None) -> str | None:
    """The opaque cursor of the page after `last_id`."""
    if last_id is None:
        return None
    return base64.urlsafe_b64encode(last_id.encode()).decode().rstrip("=")


def _after(cursor: str | None) -> str | None:
    """The id a cursor continues after; 400 for anything `_cursor` did not make."""
    if cursor is None:
        return None
    try:
        padded = cursor + "=" * (-len(cursor) % 4)
        after = base64.b64decode(padded, altchars=b"-_", validate=True).decode()
    except (binascii.Error, UnicodeDecodeError, ValueError):
        after = None
    if after is None or not is_valid_id(after):
        raise ValidationFailed(
            "cursor is not one this API returned (pass next_cursor as it came)",
            code="invalid_cursor",
        )
    return after


def _check_id(doc_id: str) -> None:
    if not is_valid_id(doc_id):
        raise ValidationFailed(f"{shorten(doc_id)!r} is not a valid document id", code="invalid_id")
