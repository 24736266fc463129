"""The RQ transport: each event becomes a delivery job on its subscriber's queue.

Jobs carry the event as structured-mode JSON; `sluice.delivery.deliver` POSTs it to the
subscriber. Retries use RQ's Retry with exponential intervals (workers run the scheduler), and
what keeps failing stays in the queue's FailedJobRegistry: the dead letter, replayable with
`sluice dlq replay`.
"""

from __future__ import annotations

from collections.abc import Sequence

from cloudevents.conversion import to_json
from cloudevents.http import CloudEvent
from redis import Redis
from rq import Callback, Queue, Retry

from sluice.settings import RouteSettings, RoutingSettings, WorkerSettings

DELIVER = "sluice.delivery.deliver"
ON_FAILURE = "sluice.delivery.on_failure"


def job_meta(event: CloudEvent, subscriber: str) -> dict[str, str]:
    """What a dead-letter listing shows without decoding the event."""
    return {
        "subscriber": subscriber,
        "event_type": event["type"],
        "event_id": event["id"],
        "document_id": event.get("subject") or "",
        "document_version": event.get("docversion") or "",
        "tenant": event.get("tenant") or "",
    }


class RqTransport:
    """Enqueues delivery jobs, one per event and route."""

    def __init__(self, routing: RoutingSettings, redis: Redis, worker: WorkerSettings) -> None:
        self.routing = routing
        self.redis = redis
        self.worker = worker

    def queue(self, subscriber: str) -> Queue:
        """The RQ queue in front of a subscriber."""
        return Queue(self.routing.subscribers[subscriber].queue, connection=self.redis)

    def publish(self, routes: Sequence[RouteSettings], events: Sequence[CloudEvent]) -> None:
        """Enqueue every (route, event) job in one Redis round trip per route."""
        for route in routes:
            subscriber = self.routing.subscribers[route.to]
            queue = self.queue(route.to)
            intervals = route.retry.intervals()
            retry = Retry(max=len(intervals), interval=intervals) if intervals else None
            jobs = [
                Queue.prepare_data(
                    DELIVER,
                    args=(route.to, to_json(event).decode("utf-8")),
                    timeout=int(subscriber.timeout_seconds) + 5,
                    result_ttl=60,
                    failure_ttl=self.worker.failed_ttl_seconds,
                    description=f"{event['type']} {event.get('subject')} -> {route.to}",
                    meta=job_meta(event, route.to),
                    retry=retry,
                    on_failure=Callback(ON_FAILURE),
                )
                for event in events
            ]
            with self.redis.pipeline() as pipe:
                queue.enqueue_many(jobs, pipeline=pipe)
                pipe.execute()

    def depth(self, route: RouteSettings) -> int | None:
        """Jobs waiting on the route's queue."""
        return self.queue(route.to).count
