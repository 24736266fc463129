"""The RQ transport: events become delivery jobs on their subscriber's queue.

The events of one publication (say, a batch of documents posted to ingest) travel together,
up to `routing.max_batch_events` per job, so each hop costs one job and one HTTP call per
batch rather than per document. Jobs carry the events as structured-mode JSON;
`sluice.rq.jobs.deliver` posts them to the subscriber. Retries use RQ's Retry with exponential
intervals (workers run the scheduler), and what keeps failing stays in the queue's
FailedJobRegistry: the dead letter (`sluice.rq.dlq`).

`delivery_job` is the one place a job is specified: this publisher, a split batch, a replay
and the broker's dead-letter sink all go through it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from cloudevents.http import CloudEvent
from redis import Redis
from rq import Callback, Queue, Retry

from sluice import codec
from sluice.settings import RouteSettings, RoutingSettings
from sluice.tracing import from_event

DELIVER = "sluice.rq.jobs.deliver"
DEAD_LETTERED = "sluice.rq.jobs.dead_lettered"
ON_FAILURE = "sluice.rq.jobs.on_failure"


def event_meta(event: CloudEvent) -> dict[str, str]:
    """What a job records of an event, so that logs and the dead letter need not decode it."""
    return {
        "event_type": event["type"],
        "event_id": event["id"],
        "document_id": event.get("subject") or "",
        "document_version": event.get("docversion") or "",
        "tenant": event.get("tenant") or "",
        "trace_id": trace.trace_id if (trace := from_event(event)) else "",
    }


def delivery_job(
    routing: RoutingSettings,
    route: RouteSettings,
    bodies: Sequence[str],
    metas: Sequence[dict[str, str]],
    *,
    dead_letter_reason: str | None = None,
) -> Any:
    """The job (for `Queue.enqueue_many`) that delivers events (their structured-mode JSON and
    `event_meta`) along the route, with the route's retry policy; with `dead_letter_reason`,
    one that files them as failed for that reason instead (what the broker gave up on)."""
    subscriber = routing.subscribers[route.to]
    more = f" and {len(metas) - 1} more" if len(metas) > 1 else ""
    description = f"{metas[0]['event_type']} {metas[0]['document_id']}{more} -> {route.to}"
    meta: dict[str, Any] = {"subscriber": route.to, "events": list(metas)}
    args: tuple[Any, ...]
    intervals = route.retry.intervals()
    if dead_letter_reason is None:
        function, args = DELIVER, (route.to, list(bodies))
        retry = Retry(max=len(intervals), interval=intervals) if intervals else None
    else:
        function, args = DEAD_LETTERED, (route.to, list(bodies), dead_letter_reason)
        retry = None
        description += " (dead-lettered by the broker)"
        meta["source"] = "broker"
    return Queue.prepare_data(
        function,
        args=args,
        timeout=int(subscriber.timeout_seconds) + 5,
        result_ttl=0,
        failure_ttl=routing.failed_ttl_seconds,
        description=description,
        meta=meta,
        retry=retry,
        on_failure=Callback(ON_FAILURE),
    )


class RqPublisher:
    """Enqueues delivery jobs, one per route and batch of events."""

    def __init__(self, routing: RoutingSettings, redis: Redis) -> None:
        self.routing = routing
        self.redis = redis

    def queue(self, subscriber: str) -> Queue:
        """The RQ queue in front of a subscriber."""
        return Queue(self.routing.subscribers[subscriber].queue, connection=self.redis)

    def publish(self, routes: Sequence[RouteSettings], events: Sequence[CloudEvent]) -> None:
        """Enqueue the events on every route, up to the configured batch size per job."""
        bodies = [codec.structured(event) for event in events]
        metas = [event_meta(event) for event in events]
        for route in routes:
            self.enqueue(route, bodies, metas, self.routing.max_batch_events)

    def enqueue(
        self,
        route: RouteSettings,
        bodies: Sequence[str],
        metas: Sequence[dict[str, str]],
        batch_size: int,
        *,
        dead_letter_reason: str | None = None,
    ) -> None:
        """Enqueue events (JSON and meta) on one route, `batch_size` per job, in one Redis
        round trip."""
        jobs = [
            delivery_job(
                self.routing,
                route,
                [bodies[i] for i in batch],
                [metas[i] for i in batch],
                dead_letter_reason=dead_letter_reason,
            )
            for batch in self._batches(bodies, batch_size)
        ]
        with self.redis.pipeline() as pipe:
            self.queue(route.to).enqueue_many(jobs, pipeline=pipe)
            pipe.execute()

    def depth(self, route: RouteSettings) -> int | None:
        """Delivery jobs waiting on the route's queue."""
        return self.queue(route.to).count

    def _batches(self, bodies: Sequence[str], size: int) -> list[list[int]]:
        """The events' positions grouped in order: at most `size` events and
        `routing.max_batch_bytes` of JSON per group (a larger event goes alone)."""
        batches: list[list[int]] = []
        length = 0
        for index, body in enumerate(bodies):
            if (
                not batches
                or len(batches[-1]) >= size
                or length + len(body) > self.routing.max_batch_bytes
            ):
                batches.append([])
                length = 0
            batches[-1].append(index)
            length += len(body)
        return batches
