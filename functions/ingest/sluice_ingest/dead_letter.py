"""The dead-letter sink of the broker transport: one dead letter for both transports.

A Knative Trigger whose delivery finally fails posts the event to its `deadLetterSink`, with
the extension attributes `knativeerrordest` (the subscriber that failed), `knativeerrorcode`
(its last HTTP status) and `knativeerrordata` (its answer, base64). This function records each
such event as a failed RQ delivery job of that subscriber, in the queue's FailedJobRegistry, and
marks its document failed, exactly as an RQ delivery that ran out of attempts ends. So
`sluice dlq list` shows broker and RQ dead letters alike, and `sluice dlq replay` delivers them
again (through an RQ worker straight to the subscriber: every step is idempotent).
"""

from __future__ import annotations

import base64
import binascii
import logging
from urllib.parse import urlparse

from cloudevents.conversion import to_json
from cloudevents.http import CloudEvent
from redis import Redis
from rq import Callback, Queue, Retry
from rq.job import JobStatus
from rq.registry import FailedJobRegistry
from rq.results import Result

from sluice.delivery import mark_failed
from sluice.http import FunctionApp, Route, event_handler
from sluice.logs import configure_logging, log_context
from sluice.metrics import DEAD_LETTERED
from sluice.settings import RouteSettings, RoutingSettings, WorkerSettings
from sluice.stores.documents import DocumentStore
from sluice.transport.rq import DELIVER, ON_FAILURE, event_meta
from sluice_ingest.container import IngestContainer

log = logging.getLogger(__name__)

KNATIVE_ERROR_ATTRIBUTES = ("knativeerrordest", "knativeerrorcode", "knativeerrordata")


class DeadLetterService:
    """Records dead-lettered broker events as failed RQ deliveries."""

    def __init__(
        self,
        routing: RoutingSettings,
        worker: WorkerSettings,
        redis: Redis,
        documents: DocumentStore,
    ) -> None:
        self.routing = routing
        self.worker = worker
        self.redis = redis
        self.documents = documents

    def event_types(self) -> list[str]:
        """The event types the routing table delivers (what can be dead-lettered)."""
        return sorted({route.event for route in self.routing.routes})

    def record(self, events: list[CloudEvent]) -> list[CloudEvent]:
        """Keep each event in its subscribers' failed-job registries; no reply."""
        for event in events:
            reason = _reason(event)
            clean = _without_knative_errors(event)
            for route in self._failed_routes(event):
                with log_context(
                    event_id=event["id"],
                    event_type=event["type"],
                    document_id=event.get("subject"),
                    tenant=event.get("tenant"),
                    subscriber=route.to,
                ):
                    job_id = self._keep(route, clean, reason)
                    DEAD_LETTERED.labels(route.to).inc()
                    log.error(
                        "broker delivery failed for good; left in the failed-job registry",
                        extra={"job_id": job_id, "error": reason},
                    )
            mark_failed(self.documents, [event_meta(clean)], reason)
        return []

    def _failed_routes(self, event: CloudEvent) -> list[RouteSettings]:
        """The routes whose subscriber failed: the one at `knativeerrordest`, else (the sink
        cannot tell) every subscriber of the type — a second delivery is harmless."""
        routes = [r for r in self.routing.routes if r.event == event["type"]]
        failed = _address(str(event.get("knativeerrordest") or ""))
        matching = [r for r in routes if _address(self.routing.subscribers[r.to].url) == failed]
        return matching or routes

    def _keep(self, route: RouteSettings, event: CloudEvent, reason: str) -> str:
        """Save a delivery job for the event and file it as failed, as RQ does on the last
        failed attempt (so `replay` gives it the route's retry budget again)."""
        subscriber = self.routing.subscribers[route.to]
        intervals = route.retry.intervals()
        queue = Queue(subscriber.queue, connection=self.redis)
        job = queue.create_job(
            DELIVER,
            args=(route.to, [to_json(event).decode("utf-8")]),
            timeout=int(subscriber.timeout_seconds) + 5,
            result_ttl=0,
            failure_ttl=self.worker.failed_ttl_seconds,
            description=f"{event['type']} {event.get('subject')} -> {route.to} (from the broker)",
            meta={"subscriber": route.to, "events": [event_meta(event)], "source": "broker"},
            retry=Retry(max=len(intervals), interval=intervals) if intervals else None,
            on_failure=Callback(ON_FAILURE),
        )
        job.retries_left = 0
        ttl = self.worker.failed_ttl_seconds
        with self.redis.pipeline() as pipe:
            job.set_status(JobStatus.FAILED, pipeline=pipe)
            job.save(pipeline=pipe)
            FailedJobRegistry(queue=queue).add(job, ttl=ttl, exc_string=reason, pipeline=pipe)
            Result.create_failure(job, ttl, reason, pipeline=pipe)
            pipe.execute()
        return job.id


def _address(url: str) -> tuple[str, int] | None:
    """A URL's host and port (the scheme's default if none), or None."""
    parsed = urlparse(url)
    if not parsed.hostname:
        return None
    return parsed.hostname, parsed.port or (443 if parsed.scheme == "https" else 80)


def _reason(event: CloudEvent) -> str:
    """What Knative says went wrong, as one line."""
    destination = event.get("knativeerrordest") or "the subscriber"
    code = event.get("knativeerrorcode") or "no answer"
    reason = f"broker delivery to {destination} failed for good (last answer: {code})"
    data = event.get("knativeerrordata")
    if data:
        try:
            text = base64.b64decode(str(data), validate=True).decode("utf-8", "replace")
        except (binascii.Error, ValueError):
            text = str(data)
        reason += ": " + " ".join(text.split())[:500]
    return reason


def _without_knative_errors(event: CloudEvent) -> CloudEvent:
    """The event as it was published, for a replay."""
    attributes = event.get_attributes()
    return CloudEvent(
        {k: v for k, v in attributes.items() if k not in KNATIVE_ERROR_ATTRIBUTES}, event.data
    )


def create_dead_letter_app(
    container: IngestContainer | None = None,
) -> FunctionApp:
    """The dead-letter sink's app: CloudEvents in on `/`, 204 out."""
    container = container or IngestContainer()
    settings = container.settings()
    configure_logging("dead-letter", settings.logging.level)
    redis = container.gateways.redis()
    service = DeadLetterService(
        settings.routing, settings.worker, redis, container.gateways.documents()
    )
    handlers = dict.fromkeys(service.event_types(), service.record)
    handler = event_handler("dead-letter", settings.routing.max_event_body_bytes, handlers)
    return FunctionApp("dead-letter", [Route("/", ("POST",), handler)], readiness=redis.ping)
