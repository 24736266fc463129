"""The dead letter: deliveries that failed for good, kept in each queue's FailedJobRegistry.

Both transports end here. An RQ delivery lands in the registry when its last attempt fails; an
event the Knative broker gave up on is filed by the dead-letter sink (`file`) as a job that it
runs at once, synchronously (an RQ queue with `is_async=False`), and that fails with the broker's
reason, so RQ records it exactly like its own failures and calls the same failure callback.
`sluice dlq --direct list|replay` (and ingest's `/dead-letters` routes, which `sluice dlq` calls
over HTTP) reads and replays them: a replay publishes the job's events again along the route
they failed on, through the transport that route takes (a fresh RQ delivery with the route's
retry budget, or the broker again), then removes the dead one. Every step is
idempotent, so a delivery that happens twice is harmless. Ingest serves the same over HTTP
(`/dead-letters`) scoped to a tenant: a tenant sees and replays only the jobs whose every event
is its own (a job mixing tenants is an operator's, for the CLI).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from cloudevents.http import CloudEvent
from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry

from sluice import codec
from sluice.routing import Router
from sluice.rq.publisher import delivery_job, event_meta
from sluice.settings import RouteSettings, RoutingSettings


class DeadLetters:
    """Lists, replays and files dead-lettered deliveries."""

    def __init__(self, routing: RoutingSettings, redis: Redis, router: Router) -> None:
        self.routing = routing
        self.redis = redis
        self.router = router

    def entries(self, tenant: str | None = None) -> list[dict[str, Any]]:
        """Every dead-lettered event (of `tenant`'s jobs only, if given): its job, subscriber,
        document and the last error line."""
        entries: list[dict[str, Any]] = []
        for registry, job in self._failed_jobs(tenant):
            result = job.latest_result()
            error = ((result.exc_string if result is not None else "") or "").strip()
            # A job the sink ran synchronously has no ended_at; its result has the time.
            failed_at = job.ended_at or (result.created_at if result is not None else None)
            for event in job.meta.get("events", []):
                entries.append(
                    {
                        "job_id": job.id,
                        "queue": registry.name,
                        "subscriber": job.meta.get("subscriber"),
                        **event,
                        "failed_at": failed_at.isoformat() if failed_at else None,
                        "error": error.splitlines()[-1] if error else "",
                    }
                )
        return entries

    def replay(self, job_ids: set[str] | None = None, tenant: str | None = None) -> int:
        """Deliver the named failed jobs (all if None; of `tenant`'s jobs only, if given) again;
        how many were replayed."""
        replayed = 0
        for registry, job in self._failed_jobs(tenant):
            if job_ids is not None and job.id not in job_ids:
                continue
            subscriber, bodies = str(job.args[0]), [str(body) for body in job.args[1]]
            events = codec.decode_batch(f"[{','.join(bodies)}]".encode(), None)
            self.router.publish_route(self._route(events[0]["type"], subscriber), events)
            registry.remove(job, delete_job=True)
            replayed += 1
        return replayed

    def file(self, event: CloudEvent, subscribers: list[str], reason: str) -> None:
        """Keep an event the broker failed to deliver to each of `subscribers` as their dead
        letter, with the broker's reason (a worker of their queue records it)."""
        body, meta = codec.structured(event), event_meta(event)
        for subscriber in subscribers:
            route = self._route(event["type"], subscriber)
            job = delivery_job(self.routing, route, [body], [meta], dead_letter_reason=reason)
            queue = self.routing.subscribers[subscriber].queue
            Queue(queue, connection=self.redis, is_async=False).enqueue_many([job])

    def _route(self, event_type: str, subscriber: str) -> RouteSettings:
        """The route of the table (its retry policy), or a default one if it is gone."""
        for route in self.routing.routes_for(event_type):
            if route.to == subscriber:
                return route
        return RouteSettings(event=event_type, to=subscriber)

    def _failed_jobs(self, tenant: str | None) -> Iterator[tuple[FailedJobRegistry, Job]]:
        for name in self.routing.queues():
            registry = FailedJobRegistry(queue=Queue(name, connection=self.redis))
            for job in Job.fetch_many(registry.get_job_ids(), connection=self.redis):
                if job is not None and (tenant is None or _only_of(job, tenant)):
                    yield registry, job


def _only_of(job: Job, tenant: str) -> bool:
    """Whether the job has events and every one is the tenant's."""
    events = job.meta.get("events", [])
    return bool(events) and all(event.get("tenant") == tenant for event in events)
