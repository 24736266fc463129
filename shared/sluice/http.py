"""The app shell of every function: routes, health, metrics, body limits, error mapping.

Functions use functions-framework's HTTP signature (its CloudEvent signature cannot reply with
an event), so a function is a `FunctionApp`: a table of routes whose handlers take a Flask
request and return a response. Every error becomes one JSON shape,
`{"error": {"code", "message", "details"?}}`, with the status code of its `SluiceError` class.
CloudEvents are decoded and encoded by `sluice.codec`, which the RQ workers share.
"""

from __future__ import annotations

import atexit
import hmac
import json
import logging
import time
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass
from typing import Any, Protocol, TypeVar

import flask
import redis
from cloudevents.http import CloudEvent
from flask import Request, Response
from prometheus_client import CONTENT_TYPE_LATEST
from pydantic import ValidationError
from werkzeug.exceptions import ClientDisconnected, HTTPException
from werkzeug.exceptions import MethodNotAllowed as WerkzeugMethodNotAllowed
from werkzeug.exceptions import NotFound as WerkzeugNotFound
from werkzeug.routing import Map, RequestRedirect, Rule

from sluice import codec
from sluice.coldstart import ColdStart
from sluice.errors import (
    BadRequest,
    LengthRequired,
    MethodNotAllowed,
    NotFound,
    PayloadTooLarge,
    SluiceError,
    TooManyRequests,
    Unauthorized,
    Unavailable,
    UnsupportedMediaType,
    ValidationFailed,
)
from sluice.logs import log_context
from sluice.metrics import EVENTS, FUNCTION_DURATION, FUNCTION_REQUESTS, exposition
from sluice.tracing import from_event

log = logging.getLogger(__name__)

Handler = Callable[..., Response]
# Answers that say nothing about whether the function can serve: not the end of a cold start.
NOT_READINESS = frozenset({"/healthz", "/metrics", "unmatched"})
# What a platform's probes and Prometheus reach without a credential.
OPEN_ROUTES = frozenset({"/healthz", "/readyz", "/metrics"})


@dataclass(frozen=True)
class Route:
    """A URL rule, its methods and its handler (called with the request and URL variables)."""

    rule: str
    methods: tuple[str, ...]
    handler: Handler


class FunctionApp:
    """A function's routes plus /healthz, /readyz and /metrics, with errors mapped to JSON.

    Built once per process, after the function's heavy objects: its first successful /readyz or
    request ends the process's cold start (`sluice_cold_start_seconds`). With an
    `internal_token` (the `internal` settings of a function only Sluice's own services call),
    every route but /healthz, /readyz and /metrics answers 401 unless the request presents it
    as `Authorization: Bearer <token>`, before a byte of the body is read.
    """

    def __init__(
        self,
        name: str,
        routes: Iterable[Route],
        readiness: Callable[[], None] | None = None,
        internal_token: str = "",
    ) -> None:
        self.name = name
        self.readiness = readiness
        self.internal_token = internal_token.encode()
        self.cold_start = ColdStart(name)
        builtin = [
            Route("/healthz", ("GET",), lambda request: json_response(200, {"status": "ok"})),
            Route("/readyz", ("GET",), self._ready),
            Route("/metrics", ("GET",), _metrics),
        ]
        self.routes = [*routes, *builtin]
        # No redirects: `//documents//x` is simply no route (merging slashes would answer it
        # with a redirect, which a function never gives).
        self.url_map = Map(
            [Rule(r.rule, methods=list(r.methods), endpoint=i) for i, r in enumerate(self.routes)],
            merge_slashes=False,
            strict_slashes=False,
        )

    def __call__(self, request: Request) -> Response:
        """Handle one request; never raises."""
        started = time.perf_counter()
        rule = "unmatched"
        try:
            adapter = self.url_map.bind_to_environ(request.environ)
            endpoint, arguments = adapter.match()
            route = self.routes[endpoint]
            rule = route.rule
            if self.internal_token and rule not in OPEN_ROUTES:
                self._authenticate(request)
            response = route.handler(request, **arguments)
        except (WerkzeugNotFound, RequestRedirect):
            response = error_response(NotFound(f"no route for {shorten(request.path)}"))
        except WerkzeugMethodNotAllowed as exc:
            allowed = sorted(exc.valid_methods or [])
            response = error_response(
                MethodNotAllowed(
                    f"{request.method} is not allowed on {shorten(request.path)}",
                    details={"allowed": allowed},
                )
            )
            response.headers["Allow"] = ", ".join(allowed)  # RFC 9110: a 405 names them
        except Exception as exc:  # the edge: everything becomes a JSON error
            response = error_response(as_sluice_error(exc))
        assert isinstance(response, Response)
        if response.status_code >= 400 and _has_body(request):
            # The body may be unread (a 401 or 413 answered from the headers): close rather
            # than read what is left of it for a next request on the connection.
            response.headers["Connection"] = "close"
        FUNCTION_REQUESTS.labels(self.name, rule, f"{response.status_code // 100}xx").inc()
        FUNCTION_DURATION.labels(self.name, rule).observe(time.perf_counter() - started)
        if response.status_code < 300 and rule not in NOT_READINESS:
            self.cold_start.ready()
        return response

    def _authenticate(self, request: Request) -> None:
        presented = bearer_token(request)
        if presented is None:
            raise Unauthorized(
                f"{self.name} serves Sluice's own services only: send the internal token as "
                "'Authorization: Bearer <token>'",
                code="internal_token_required",
            )
        if not hmac.compare_digest(presented, self.internal_token):
            raise Unauthorized("the internal token is not valid", code="internal_token_invalid")

    def _ready(self, request: Request) -> Response:
        if self.readiness is not None:
            self.readiness()
        return json_response(200, {"status": "ready"})


class FunctionContainer(Protocol):
    """A function's dependency-injector container (what `serve` needs of it)."""

    def shutdown_resources(self) -> object:
        """Close the clients it opened."""
        ...


C = TypeVar("C", bound=FunctionContainer)


def serve(container: C, create_app: Callable[[C], FunctionApp]) -> FunctionApp:
    """A function's app, built once per process from its container, whose clients are closed
    when the process exits (what every `main.py` does)."""
    app = create_app(container)
    atexit.register(container.shutdown_resources)
    return app


def shorten(text: str, limit: int = 100) -> str:
    """Client input as an error message may quote it: never more than `limit` characters."""
    return text if len(text) <= limit else text[: limit - 1] + "…"


def as_sluice_error(exc: Exception) -> SluiceError:
    """Map any exception to the SluiceError (and so the status) it stands for."""
    if isinstance(exc, SluiceError):
        return exc
    if isinstance(exc, ValidationError):
        return ValidationFailed("the payload is invalid", details=validation_details(exc))
    if isinstance(exc, redis.exceptions.ConnectionError | redis.exceptions.TimeoutError):
        return Unavailable(f"Redis is unavailable: {exc}", code="redis_unavailable")
    if isinstance(exc, redis.exceptions.LockError):
        return Unavailable(f"the document is busy: {exc}", code="document_locked")
    log.exception("unhandled error")
    return SluiceError(f"internal error: {type(exc).__name__}")


def validation_details(exc: ValidationError) -> list[dict[str, Any]]:
    """Pydantic errors as `{"field", "message"}` items."""
    return [
        {"field": ".".join(str(p) for p in e["loc"]) or "(body)", "message": e["msg"]}
        for e in exc.errors()
    ]


def framework_error(exc: HTTPException) -> Response:
    """What the web framework answers itself, before a function sees the request, in the one
    JSON error shape: functions-framework's URL rules match no path with a line break in it
    (and abort `/robots.txt`, `/favicon.ico`), which Flask would answer with an HTML page."""
    status = exc.code or 500
    if status == 404:
        return error_response(NotFound(f"no route for {shorten(flask.request.path)}"))
    error = SluiceError(exc.description or exc.name, code=exc.name.lower().replace(" ", "_"))
    error.status = status
    return error_response(error)


def error_response(error: SluiceError) -> Response:
    """The JSON error response for an error (with Retry-After when it is a 429)."""
    headers = {}
    if isinstance(error, TooManyRequests):
        headers["Retry-After"] = str(error.retry_after)
    if error.status >= 500:
        log.warning("request failed: %s", error.message, extra={"code": error.code})
    return json_response(error.status, error.to_body(), headers)


def json_response(status: int, body: Any, headers: Mapping[str, str] | None = None) -> Response:
    """A JSON response."""
    return Response(
        json.dumps(body), status=status, headers=dict(headers or {}), mimetype="application/json"
    )


def event_response(event: CloudEvent) -> Response:
    """A 200 reply carrying a CloudEvent in binary mode (Knative's reply contract)."""
    headers, body = codec.binary(event)
    return Response(body, status=200, headers=headers)


def no_reply() -> Response:
    """Success without an event to pass on."""
    return Response(status=204)


def _metrics(request: Request) -> Response:
    return Response(exposition(), status=200, headers={"Content-Type": CONTENT_TYPE_LATEST})


def read_body(request: Request, limit: int) -> bytes:
    """The request body: 411 without a Content-Length, 413 (from the headers, before reading)
    if it says more than `limit` bytes, 400 if the body ends before its Content-Length."""
    length = request.content_length
    if length is None:
        if _has_body(request):
            raise LengthRequired(
                "send the body with a Content-Length (chunked bodies are not accepted)"
            )
        return b""
    if length > limit:
        raise PayloadTooLarge(
            f"the body is {length} bytes; the limit is {limit}", code="body_too_large"
        )
    try:
        body = request.stream.read(length)
    except ClientDisconnected:
        body = b""
    if len(body) < length:
        raise BadRequest(
            f"the body ended after {len(body)} of its {length} bytes", code="incomplete_body"
        )
    return body


def bearer_token(request: Request) -> bytes | None:
    """The credential of `Authorization: Bearer <value>`, or None without one."""
    scheme, _, value = request.headers.get("Authorization", "").partition(" ")
    if scheme.lower() != "bearer" or not value.strip():
        return None
    return value.strip().encode()


def _has_body(request: Request) -> bool:
    return bool(request.content_length) or "chunked" in (
        request.headers.get("Transfer-Encoding", "").lower()
    )


def require_json(request: Request) -> None:
    """415 unless the request's content type is JSON."""
    if request.mimetype != codec.JSON:
        raise UnsupportedMediaType(
            f"content type {request.mimetype or '(none)'!r} is not supported; "
            "send application/json",
            code="unsupported_media_type",
        )


EventsHandler = Callable[[list[CloudEvent]], list[CloudEvent]]


def event_handler(name: str, max_body_bytes: int, handlers: Mapping[str, EventsHandler]) -> Handler:
    """A route handler for CloudEvents: one (binary or structured mode), answered with its
    reply event or 204; or a JSON batch of them (how RQ workers deliver), answered with the
    batch of replies. Handlers take and return lists."""

    def handle(request: Request) -> Response:
        body = read_body(request, max_body_bytes)
        if not codec.is_event(request.headers):
            raise BadRequest(
                f"expected a CloudEvent (ce-* headers, {codec.STRUCTURED} or {codec.BATCH})",
                code="not_a_cloudevent",
            )
        events, batch = codec.decode(request.headers, body, handlers)
        if batch:
            # A batch is one publication (one trace); its handlers log each document's own span.
            traces = {t.trace_id for t in map(from_event, events) if t is not None}
            with log_context(
                batch=len(events), trace_id=traces.pop() if len(traces) == 1 else None
            ):
                replies = _dispatch(name, events, handlers)
            return Response(codec.encode_batch(replies), status=200, mimetype=codec.BATCH)
        (event,) = events
        trace = from_event(event)
        with log_context(
            event_id=event["id"],
            event_type=event["type"],
            document_id=event.get("subject"),
            tenant=event.get("tenant"),
            trace_id=trace.trace_id if trace else None,
        ):
            replies = _dispatch(name, events, handlers)
        return event_response(replies[0]) if replies else no_reply()

    return handle


def _dispatch(
    name: str, events: list[CloudEvent], handlers: Mapping[str, EventsHandler]
) -> list[CloudEvent]:
    """Hand the events, grouped by type (order kept within a type), to their handlers."""
    by_type: dict[str, list[CloudEvent]] = {}
    for event in events:
        by_type.setdefault(event["type"], []).append(event)
    replies: list[CloudEvent] = []
    for event_type, group in by_type.items():
        EVENTS.labels(name, "in", event_type).inc(len(group))
        replies.extend(handlers[event_type](group))
    for reply in replies:
        EVENTS.labels(name, "out", reply["type"]).inc()
    return replies
