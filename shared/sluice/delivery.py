"""RQ jobs: deliver one CloudEvent over HTTP to its subscriber and route the reply onward.

The subscriber's answer decides what happens (Knative's reply contract):
- 2xx with a CloudEvent: success; the reply is published along its own routes.
- 2xx without one: success, nothing follows.
- 404, 408, 409, 429, 5xx, or no answer at all: transient; RQ retries with backoff.
- any other 4xx: the event is permanently bad; no retry, straight to the dead letter.
When the last attempt fails, the document is marked `failed` with the reason.
"""

from __future__ import annotations

import logging
import time
from types import TracebackType
from typing import Any

import httpx
from cloudevents.conversion import to_binary
from cloudevents.exceptions import GenericException as CloudEventError
from cloudevents.http import CloudEvent, from_http, from_json
from redis import Redis
from rq.job import Job

from sluice.errors import SluiceError
from sluice.events import DOCUMENT_ACCEPTED, DOCUMENT_DELETED, DOCUMENT_EMBEDDED
from sluice.logs import log_context
from sluice.metrics import DEAD_LETTERED, DELIVERIES, DELIVERY_DURATION, DOCUMENTS
from sluice.routing import Router, create_router
from sluice.settings import Settings, cached_settings
from sluice.stores.documents import DocumentStore, Status

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


def deliver(subscriber: str, event_json: str) -> str:
    """Deliver the event to the subscriber; publish its reply, if any. Returns the outcome."""
    ctx = context()
    event = from_json(event_json)
    target = ctx.settings.routing.subscribers[subscriber]
    with log_context(
        event_id=event["id"],
        event_type=event["type"],
        document_id=event.get("subject"),
        tenant=event.get("tenant"),
        subscriber=subscriber,
    ):
        headers, body = to_binary(event)
        started = time.perf_counter()
        try:
            response = ctx.http.post(
                target.url, headers=headers, content=body, timeout=target.timeout_seconds
            )
        except httpx.HTTPError as exc:
            DELIVERIES.labels(subscriber, "unreachable").inc()
            raise DeliveryFailed(
                f"{subscriber} at {target.url} unreachable: {exc!r}", permanent=False
            ) from exc
        finally:
            DELIVERY_DURATION.labels(subscriber).observe(time.perf_counter() - started)
        if response.status_code >= 300:
            permanent = response.status_code < 500 and response.status_code not in RETRIED_STATUSES
            DELIVERIES.labels(subscriber, str(response.status_code)).inc()
            raise DeliveryFailed(
                f"{subscriber} answered {response.status_code}: {_error_message(response)}",
                permanent=permanent,
            )
        DELIVERIES.labels(subscriber, "ok").inc()
        reply = _reply(response)
        if reply is None:
            log.info("delivered", extra={"status": response.status_code})
            return "delivered"
        ctx.router.publish([reply])
        log.info("delivered; reply routed", extra={"reply_type": reply["type"]})
        return f"replied {reply['type']}"


def on_failure(
    job: Job,
    connection: Redis,
    exc_type: type[BaseException] | None,
    exc_value: BaseException | None,
    traceback: TracebackType | None,
) -> None:
    """RQ failure callback: stop retrying permanent failures; on the last one, mark the
    document failed and count the dead letter."""
    if isinstance(exc_value, DeliveryFailed) and exc_value.permanent:
        job.retries_left = 0
    if job.retries_left:
        log.warning(
            "delivery failed, will retry",
            extra={"job_id": job.id, "retries_left": job.retries_left, "error": str(exc_value)},
        )
        return
    meta: dict[str, Any] = job.meta or {}
    subscriber = str(meta.get("subscriber", ""))
    DEAD_LETTERED.labels(subscriber).inc()
    reason = str(exc_value) if exc_value is not None else "delivery failed"
    with log_context(
        event_id=meta.get("event_id"),
        document_id=meta.get("document_id"),
        tenant=meta.get("tenant"),
        subscriber=subscriber,
    ):
        log.error(
            "delivery failed for good; left in the failed-job registry",
            extra={"job_id": job.id, "error": reason},
        )
        if meta.get("event_type") in DOCUMENT_EVENTS and meta.get("document_id"):
            _mark_failed(job, meta, reason)


def _mark_failed(job: Job, meta: dict[str, Any], reason: str) -> None:
    if not meta.get("document_version"):
        return
    if context().documents.transition(
        meta["tenant"],
        meta["document_id"],
        meta["document_version"],
        Status.FAILED,
        [Status.ACCEPTED, Status.TRANSFORMING, Status.EMBEDDED],
        error=reason[:2000],
    ):
        DOCUMENTS.labels(Status.FAILED).inc()


def _reply(response: httpx.Response) -> CloudEvent | None:
    has_event = "ce-specversion" in response.headers or response.headers.get(
        "content-type", ""
    ).startswith("application/cloudevents+json")
    if response.status_code != 200 or not has_event:
        return None
    try:
        return from_http(dict(response.headers), response.content)
    except CloudEventError as exc:
        raise DeliveryFailed(f"reply is not a valid CloudEvent: {exc}", permanent=True) from exc


def _error_message(response: httpx.Response) -> str:
    try:
        return str(response.json()["error"]["message"])
    except (ValueError, KeyError, TypeError):
        return response.text[:300] or "(empty body)"
