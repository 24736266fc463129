"""The RQ transport: events become delivery jobs on their subscriber's queue.

The events of one publication (say, a batch of documents posted to ingest) travel together,
up to `routing.max_batch_events` per job, so each hop costs one job and one HTTP call per
batch rather than per document. Jobs carry the events as structured-mode JSON;
`sluice.delivery.deliver` posts them to the subscriber. Retries use RQ's Retry with exponential
intervals (workers run the scheduler), and what keeps failing stays in the queue's
FailedJobRegistry: the dead letter, listed and replayed with `sluice dlq list|replay`.
"""

from __future__ import annotations

from collections.abc import Sequence

from cloudevents.conversion import to_json
from cloudevents.http import CloudEvent
from redis import Redis
from rq import Callback, Queue, Retry

from sluice.settings import RouteSettings, RoutingSettings, WorkerSettings
from sluice.tracing import from_event

DELIVER = "sluice.delivery.deliver"
ON_FAILURE = "sluice.delivery.on_failure"


def event_meta(event: CloudEvent) -> dict[str, str]:
    """What a dead-letter listing shows of an event without decoding it."""
    return {
        "event_type": event["type"],
        "event_id": event["id"],
        "document_id": event.get("subject") or "",
        "document_version": event.get("docversion") or "",
        "tenant": event.get("tenant") or "",
        "trace_id": trace.trace_id if (trace := from_event(event)) else "",
    }


class RqTransport:
    """Enqueues delivery jobs, one per route and batch of events."""

    def __init__(self, routing: RoutingSettings, redis: Redis, worker: WorkerSettings) -> None:
        self.routing = routing
        self.redis = redis
        self.worker = worker

    def queue(self, subscriber: str) -> Queue:
        """The RQ queue in front of a subscriber."""
        return Queue(self.routing.subscribers[subscriber].queue, connection=self.redis)

    def publish(
        self,
        routes: Sequence[RouteSettings],
        events: Sequence[CloudEvent],
        batch_size: int | None = None,
    ) -> None:
        """Enqueue the events on every route, `batch_size` (default: the configured maximum)
        per job, in one Redis round trip per route."""
        batches = self._batches(events, batch_size or self.routing.max_batch_events)
        for route in routes:
            subscriber = self.routing.subscribers[route.to]
            intervals = route.retry.intervals()
            retry = Retry(max=len(intervals), interval=intervals) if intervals else None
            jobs = [
                Queue.prepare_data(
                    DELIVER,
                    args=(route.to, [body for _, body in batch]),
                    timeout=int(subscriber.timeout_seconds) + 5,
                    result_ttl=0,
                    failure_ttl=self.worker.failed_ttl_seconds,
                    description=_describe([e for e, _ in batch], route.to),
                    meta={"subscriber": route.to, "events": [event_meta(e) for e, _ in batch]},
                    retry=retry,
                    on_failure=Callback(ON_FAILURE),
                )
                for batch in batches
            ]
            with self.redis.pipeline() as pipe:
                self.queue(route.to).enqueue_many(jobs, pipeline=pipe)
                pipe.execute()

    def _batches(
        self, events: Sequence[CloudEvent], size: int
    ) -> list[list[tuple[CloudEvent, str]]]:
        """The events with their JSON, grouped in order: at most `size` events and
        `routing.max_batch_bytes` of JSON per group (a larger event goes alone)."""
        batches: list[list[tuple[CloudEvent, str]]] = []
        length = 0
        for event in events:
            body = to_json(event).decode("utf-8")
            if (
                not batches
                or len(batches[-1]) >= size
                or length + len(body) > self.routing.max_batch_bytes
            ):
                batches.append([])
                length = 0
            batches[-1].append((event, body))
            length += len(body)
        return batches

    def depth(self, route: RouteSettings) -> int | None:
        """Delivery jobs waiting on the route's queue."""
        return self.queue(route.to).count


def _describe(batch: Sequence[CloudEvent], subscriber: str) -> str:
    first = batch[0]
    more = f" and {len(batch) - 1} more" if len(batch) > 1 else ""
    return f"{first['type']} {first.get('subject')}{more} -> {subscriber}"
