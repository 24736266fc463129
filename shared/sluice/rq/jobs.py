"""RQ jobs: deliver CloudEvents over HTTP to their subscriber and route the replies onward.

A job carries one event, or a batch of events of one type from one publication (a batch of
documents posted to ingest, or the replies to such a batch). One event is posted in structured
mode; several as a CloudEvents JSON batch, to which the subscriber answers with a batch of
reply events. The answer decides what happens (Knative's reply contract):
- 2xx with events: success; each reply is published along its own routes.
- 2xx without: success, nothing follows.
- 404, 408, 409, 429, 5xx, or no answer at all: transient; RQ retries the job with backoff.
- any other 4xx: an event is permanently bad. A single event goes straight to the dead letter
  (no retry); a batch is split into one job per event, so only the bad one ends there.
When the last attempt fails, the documents are marked `failed` with the reason.

Each attempt is a span of the events' trace (W3C `traceparent`, from the first event's
distributed-tracing extension): the worker logs with it and sends it as the HTTP `traceparent`
header; the events themselves keep the extension their emitter gave them.

The jobs are module-level functions (RQ imports them by name); what they need comes from the
container of the process that runs them, which wires this module: `delivery` (the worker's,
`sluice.rq.worker.WorkerContainer`) and `documents` (the failure callback's; the dead-letter
sink runs the `dead_lettered` job in its own process).
"""

from __future__ import annotations

import json
import logging
import time
from types import TracebackType
from typing import Any

import httpx
from cloudevents.http import CloudEvent
from dependency_injector.wiring import Provide, inject
from redis import Redis
from rq import get_current_job
from rq.job import Job

from sluice import codec
from sluice.errors import SluiceError
from sluice.events import DOCUMENT_ACCEPTED, DOCUMENT_DELETED, DOCUMENT_EMBEDDED
from sluice.lifecycle import Status
from sluice.logs import log_context
from sluice.metrics import (
    DEAD_LETTERED,
    DELIVERIES,
    DELIVERY_DURATION,
    DELIVERY_RETRIES,
    DOCUMENTS,
)
from sluice.routing import Router
from sluice.rq.publisher import RqPublisher, event_meta
from sluice.settings import RoutingSettings
from sluice.stores.documents import DocumentStore
from sluice.tracing import continue_from, from_event

log = logging.getLogger(__name__)

RETRIED_STATUSES = frozenset({404, 408, 409, 429})
# Events whose final failure leaves their document failed.
DOCUMENT_EVENTS = frozenset({DOCUMENT_ACCEPTED, DOCUMENT_EMBEDDED, DOCUMENT_DELETED})


class DeliveryFailed(Exception):
    """A delivery attempt failed; `permanent` failures are not retried."""

    def __init__(self, message: str, *, permanent: bool) -> None:
        super().__init__(message)
        self.permanent = permanent


class Delivery:
    """What the jobs do, with the clients the worker process built once. Each POST to a
    subscriber presents the internal token (`internal` settings) if one is configured."""

    def __init__(
        self,
        routing: RoutingSettings,
        http: httpx.Client,
        router: Router,
        publisher: RqPublisher,
        internal_token: str = "",
    ) -> None:
        self.routing = routing
        self.http = http
        self.router = router
        self.publisher = publisher
        self.credentials = {"authorization": f"Bearer {internal_token}"} if internal_token else {}

    def deliver(self, subscriber: str, events: list[str]) -> str:
        """Deliver the events (structured-mode JSON) to the subscriber; publish its replies."""
        target = self.routing.subscribers[subscriber]
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
                headers, body = {"content-type": codec.STRUCTURED}, events[0]
            else:
                headers, body = {"content-type": codec.BATCH}, "[" + ",".join(events) + "]"
            headers.update(span.attributes())  # the HTTP traceparent (and tracestate) headers
            headers.update(self.credentials)
            started = time.perf_counter()
            try:
                response = self.http.post(
                    target.url,
                    headers=headers,
                    content=body.encode(),
                    timeout=target.timeout_seconds,
                )
            except httpx.HTTPError as exc:
                DELIVERIES.labels(subscriber, "unreachable").inc()
                raise DeliveryFailed(
                    f"{subscriber} at {target.url} unreachable: {exc!r}", permanent=False
                ) from exc
            finally:
                DELIVERY_DURATION.labels(subscriber).observe(time.perf_counter() - started)
            if response.status_code >= 300:
                return self._rejected(subscriber, events, response)
            DELIVERIES.labels(subscriber, "ok").inc()
            replies = _replies(response)
            if replies:
                self.router.publish(replies)
            if len(events) == 1:
                log.info("delivered", extra={"replies": len(replies)})
            else:  # one line per document, so each document's journey shows the delivery
                for meta in _job_meta(events):
                    with log_context(event_id=meta["event_id"], document_id=meta["document_id"]):
                        log.info("delivered", extra={"replies": len(replies)})
            return f"delivered {len(events)}, {len(replies)} replies"

    def _rejected(self, subscriber: str, events: list[str], response: httpx.Response) -> str:
        """A delivery answered with an error: retry, dead-letter, or split a bad batch."""
        DELIVERIES.labels(subscriber, str(response.status_code)).inc()
        permanent = response.status_code < 500 and response.status_code not in RETRIED_STATUSES
        message = f"{subscriber} answered {response.status_code}: {_error_message(response)}"
        if not (permanent and len(events) > 1):
            raise DeliveryFailed(message, permanent=permanent)
        log.warning("batch rejected, splitting it into single deliveries", extra={"error": message})
        metas = _job_meta(events)
        for route in self.routing.routes_for(metas[0]["event_type"]):
            if route.to == subscriber:
                self.publisher.enqueue(route, events, metas, batch_size=1)
        return f"split {len(events)} events"


def failed_for_good(job: Job, reason: str, documents: DocumentStore) -> None:
    """Log, count and mark failed the documents of a job that will not be tried again."""
    meta: dict[str, Any] = job.meta or {}
    subscriber = str(meta.get("subscriber", ""))
    events: list[dict[str, str]] = meta.get("events", [])
    DEAD_LETTERED.labels(subscriber).inc(len(events))
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
    versions = [
        (e["tenant"], e["document_id"], e["document_version"])
        for e in events
        if e.get("event_type") in DOCUMENT_EVENTS and e.get("document_version")
    ]
    if versions:
        DOCUMENTS.labels(Status.FAILED).inc(documents.mark_failed(versions, reason))


@inject
def deliver(subscriber: str, events: list[str], delivery: Delivery = Provide["delivery"]) -> str:
    """The delivery job: post the events to the subscriber, publish its replies."""
    return delivery.deliver(subscriber, events)


def dead_lettered(subscriber: str, events: list[str], reason: str) -> str:
    """The job the broker's dead-letter sink runs (synchronously, in its own process): it fails
    at once, for good, with the broker's reason, so that RQ files it in the failed-job registry
    as it files every other dead letter (and `on_failure` marks the documents failed)."""
    raise DeliveryFailed(reason, permanent=True)


@inject
def on_failure(
    job: Job,
    connection: Redis,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
    documents: DocumentStore = Provide["documents"],
) -> None:
    """RQ's failure callback: stop retrying permanent failures; after the last attempt, mark
    the documents failed and count the dead letter."""
    if isinstance(exc_value, DeliveryFailed) and exc_value.permanent:
        job.retries_left = 0
    if job.retries_left:
        DELIVERY_RETRIES.labels(str((job.meta or {}).get("subscriber", ""))).inc()
        log.warning(
            "delivery failed, will retry",
            extra={"job_id": job.id, "retries_left": job.retries_left, "error": str(exc_value)},
        )
        return
    reason = str(exc_value) if exc_value is not None else "delivery failed"
    failed_for_good(job, reason, documents)


def _job_meta(events: list[str]) -> list[dict[str, str]]:
    """Each event's meta (`event_meta`), from the running job: parsing the events themselves
    (an embedded document carries every chunk's vector) would cost more than the delivery."""
    job = get_current_job()
    meta: list[dict[str, str]] = (job.meta or {}).get("events", []) if job is not None else []
    if len(meta) == len(events):
        return meta
    return [
        event_meta(event) for event in codec.decode_batch(f"[{','.join(events)}]".encode(), None)
    ]


def _replies(response: httpx.Response) -> list[CloudEvent]:
    """The reply events of a 200 answer (one, a batch, or none)."""
    if response.status_code != 200 or not codec.is_event(response.headers):
        return []
    try:
        events, _ = codec.decode(response.headers, response.content, None)
    except SluiceError as exc:
        raise DeliveryFailed(f"reply is not a valid CloudEvent: {exc}", permanent=True) from exc
    return events


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:300] or "(empty body)"
