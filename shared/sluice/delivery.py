"""RQ jobs: deliver CloudEvents over HTTP to their subscriber and route the replies onward.

A job carries one event, or a batch of events of one type from one publication (a batch of
documents posted to ingest, or the replies to such a batch). One event is posted in structured
mode; several as a CloudEvents JSON batch (`application/cloudevents-batch+json`), to which the
subscriber answers with a batch of reply events. The answer decides what happens (Knative's
reply contract):
- 2xx with events: success; each reply is published along its own routes.
- 2xx without: success, nothing follows.
- 404, 408, 409, 429, 5xx, or no answer at all: transient; RQ retries the job with backoff.
- any other 4xx: an event is permanently bad. A single event goes straight to the dead letter
  (no retry); a batch is split into one job per event, so only the bad one ends there.
When the last attempt fails, the documents are marked `failed` with the reason.

Each attempt is a span of the events' trace (W3C `traceparent`, from the first event's
distributed-tracing extension): the worker logs with it and sends it as the HTTP `traceparent`
header; the events themselves keep the extension their emitter gave them.
"""

from __future__ import annotations

import json
import logging
import time
from types import TracebackType
from typing import Any

import httpx
from cloudevents.exceptions import GenericException as CloudEventError
from cloudevents.http import CloudEvent, from_dict, from_http, from_json
from redis import Redis
from rq import get_current_job
from rq.job import Job

from sluice.errors import SluiceError
from sluice.events import DOCUMENT_ACCEPTED, DOCUMENT_DELETED, DOCUMENT_EMBEDDED
from sluice.http import BATCH, STRUCTURED
from sluice.lifecycle import Status
from sluice.logs import log_context
from sluice.metrics import (
    DEAD_LETTERED,
    DELIVERIES,
    DELIVERY_DURATION,
    DELIVERY_RETRIES,
    DOCUMENTS,
)
from sluice.routing import Router, create_router
from sluice.settings import Settings, cached_settings
from sluice.stores.documents import DocumentStore
from sluice.tracing import continue_from, from_event
from sluice.transport.rq import RqTransport

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({404, 408, 409, 429})
# Events whose final failure leaves their document failed.
DOCUMENT_EVENTS = frozenset({DOCUMENT_ACCEPTED, DOCUMENT_EMBEDDED, DOCUMENT_DELETED})


class DeliveryFailed(SluiceError):
    """A delivery attempt failed; `permanent` failures are not retried."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message, code="delivery_failed")
        self.permanent = permanent


class DeliveryContext:
    """What delivery jobs need, built once per worker process."""

    def __init__(
        self,
        settings: Settings,
        redis: Redis,
        router: Router,
        documents: DocumentStore,
        http: httpx.Client,
    ) -> None:
        self.settings = settings
        self.redis = redis
        self.router = router
        self.documents = documents
        self.http = http


_context: DeliveryContext | None = None


def set_context(context: DeliveryContext) -> None:
    """Install the worker process's context (done by `sluice worker` at start)."""
    global _context
    _context = context


def context() -> DeliveryContext:
    """The worker process's context, built from settings on first use if nobody installed one."""
    global _context
    if _context is None:
        settings = cached_settings()
        redis = Redis.from_url(settings.redis.url)
        _context = DeliveryContext(
            settings,
            redis,
            create_router(settings.routing, redis, settings.worker),
            DocumentStore(redis, settings.redis.key_prefix),
            httpx.Client(),
        )
    return _context


def deliver(subscriber: str, events: list[str]) -> str:
    """Deliver the events (structured-mode JSON) to the subscriber; publish its replies."""
    ctx = context()
    target = ctx.settings.routing.subscribers[subscriber]
    first = json.loads(events[0])
    span = continue_from(from_event(first))  # a batch is one publication: one trace
    with log_context(
        event_id=first.get("id"),
        event_type=first.get("type"),
        document_id=first.get("subject") if len(events) == 1 else None,
        tenant=first.get("tenant"),
        subscriber=subscriber,
        batch=len(events),
        **span.log_fields(),
    ):
        if len(events) == 1:
            headers, body = {"content-type": STRUCTURED}, events[0]
        else:
            headers, body = {"content-type": BATCH}, "[" + ",".join(events) + "]"
        headers.update(span.attributes())  # the HTTP traceparent (and tracestate) headers
        started = time.perf_counter()
        try:
            response = ctx.http.post(
                target.url, headers=headers, content=body.encode(), timeout=target.timeout_seconds
            )
        except httpx.HTTPError as exc:
            DELIVERIES.labels(subscriber, "unreachable").inc()
            raise DeliveryFailed(
                f"{subscriber} at {target.url} unreachable: {exc!r}", permanent=False
            ) from exc
        finally:
            DELIVERY_DURATION.labels(subscriber).observe(time.perf_counter() - started)
        if response.status_code >= 300:
            DELIVERIES.labels(subscriber, str(response.status_code)).inc()
            permanent = response.status_code < 500 and response.status_code not in RETRIED_STATUSES
            message = f"{subscriber} answered {response.status_code}: {_error_message(response)}"
            if permanent and len(events) > 1:
                _split(subscriber, events, message)
                return f"split {len(events)} events"
            raise DeliveryFailed(message, permanent=permanent)
        DELIVERIES.labels(subscriber, "ok").inc()
        replies = _replies(response)
        if replies:
            ctx.router.publish(replies)
        if len(events) == 1:
            log.info("delivered", extra={"replies": len(replies)})
        else:  # one line per document, so each document's journey shows the delivery
            for meta in _batch_meta(events):
                with log_context(event_id=meta["event_id"], document_id=meta["document_id"]):
                    log.info("delivered", extra={"replies": len(replies)})
        return f"delivered {len(events)}, {len(replies)} replies"


def _batch_meta(events: list[str]) -> list[dict[str, str]]:
    """Each event's id and document, from the job's meta: parsing the events themselves (an
    embedded document carries every chunk's vector) would cost more than the delivery."""
    job = get_current_job()
    meta: list[dict[str, str]] = (job.meta or {}).get("events", []) if job is not None else []
    if len(meta) == len(events):
        return meta
    parsed = [json.loads(event) for event in events]
    return [{"event_id": e.get("id", ""), "document_id": e.get("subject", "")} for e in parsed]


def _split(subscriber: str, events: list[str], reason: str) -> None:
    """Re-enqueue a rejected batch as one job per event, each with a fresh retry budget."""
    log.warning("batch rejected, splitting it into single deliveries", extra={"error": reason})
    parsed = [from_json(e) for e in events]
    routes = [r for r in context().router.routes_for(parsed[0]["type"]) if r.to == subscriber]
    transport = context().router.transports["rq"]
    assert isinstance(transport, RqTransport)
    transport.publish(routes, parsed, batch_size=1)


def on_failure(
    job: Job,
    connection: Redis,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """RQ failure callback: stop retrying permanent failures; on the last one, mark the
    documents failed and count the dead letter."""
    if isinstance(exc_value, DeliveryFailed) and exc_value.permanent:
        job.retries_left = 0
    if job.retries_left:
        DELIVERY_RETRIES.labels(str((job.meta or {}).get("subscriber", ""))).inc()
        log.warning(
            "delivery failed, will retry",
            extra={"job_id": job.id, "retries_left": job.retries_left, "error": str(exc_value)},
        )
        return
    meta: dict[str, Any] = job.meta or {}
    subscriber = str(meta.get("subscriber", ""))
    events: list[dict[str, str]] = meta.get("events", [])
    DEAD_LETTERED.labels(subscriber).inc(len(events))
    reason = str(exc_value) if exc_value is not None else "delivery failed"
    for event in events:
        with log_context(
            event_id=event.get("event_id"),
            document_id=event.get("document_id"),
            tenant=event.get("tenant"),
            trace_id=event.get("trace_id") or None,
            subscriber=subscriber,
        ):
            log.error(
                "delivery failed for good; left in the failed-job registry",
                extra={"job_id": job.id, "error": reason},
            )
    mark_failed(context().documents, events, reason)


def mark_failed(documents: DocumentStore, events: list[dict[str, str]], reason: str) -> None:
    """Mark the documents of finally undeliverable events (`event_meta` dicts) failed, with
    the reason, unless a newer version or a final status has taken their place."""
    versions = [
        (e["tenant"], e["document_id"], e["document_version"])
        for e in events
        if e.get("event_type") in DOCUMENT_EVENTS and e.get("document_version")
    ]
    if versions:
        DOCUMENTS.labels(Status.FAILED).inc(documents.mark_failed(versions, reason))


def _replies(response: httpx.Response) -> list[CloudEvent]:
    """The reply events of a 200 answer (one, a batch, or none)."""
    content_type = response.headers.get("content-type", "")
    if response.status_code != 200:
        return []
    try:
        if content_type.startswith(BATCH):
            return [from_dict(item) for item in response.json()]
        if "ce-specversion" in response.headers or content_type.startswith(STRUCTURED):
            return [from_http(dict(response.headers), response.content)]
    except (CloudEventError, ValueError, TypeError) as exc:
        raise DeliveryFailed(f"reply is not a valid CloudEvent: {exc}", permanent=True) from exc
    return []


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:300] or "(empty body)"
