"""The reconciler: publishes again the document versions whose delivery was lost.

A version in flight is in the ledger of `sluice.stores.documents` with its source, and each step
of the pipeline moves its ledger time on. A version whose time has not moved for
`worker.reconcile_after_seconds` and that no delivery job carries (waiting, running, or waiting
for a retry, in any queue) has lost its delivery: ingest died between accepting and publishing
it, or Redis lost the job. It is published again, as ingest would, from its source; every step
is idempotent, so a version that was only slow is merely delivered twice.

The workers run it, one at a time (a Redis lock), every `worker.reconcile_interval_seconds`.
"""

from __future__ import annotations

import logging
import threading
import time

from redis import Redis
from redis.exceptions import RedisError
from rq import Queue
from rq.job import Job
from rq.registry import ScheduledJobRegistry, StartedJobRegistry

from sluice.events import DOCUMENT_ACCEPTED, DocumentAccepted, version_event
from sluice.lifecycle import IN_FLIGHT
from sluice.logs import log_context
from sluice.metrics import RECONCILED
from sluice.routing import Router
from sluice.settings import RoutingSettings, WorkerSettings
from sluice.stores.blobs import BlobStore
from sluice.stores.documents import DocRef, DocumentStore

log = logging.getLogger(__name__)
SOURCE = "/sluice/reconciler"


class Reconciler:
    """Finds versions in flight whose delivery was lost and publishes them again."""

    def __init__(
        self,
        routing: RoutingSettings,
        settings: WorkerSettings,
        redis: Redis,
        documents: DocumentStore,
        blobs: BlobStore,
        router: Router,
    ) -> None:
        self.routing = routing
        self.settings = settings
        self.redis = redis
        self.documents = documents
        self.blobs = blobs
        self.router = router

    def run_once(self, now: float) -> int:
        """One pass; how many versions it published again."""
        stalled = self.documents.stalled(since=now - self.settings.reconcile_after_seconds)
        if not stalled:
            return 0
        carried = self._carried_by_jobs()
        records = self.documents.get_many(stalled)
        lost: list[DocumentAccepted] = []
        waiting: list[DocRef] = []
        finished: list[DocRef] = []
        for ref, record in zip(stalled, records, strict=True):
            source = self.documents.source(*ref)
            if record is None or record.status not in IN_FLIGHT or source is None:
                finished.append(ref)  # the ledger is behind the record: nothing to do
            elif (*ref, record.version) in carried or source.version != record.version:
                waiting.append(ref)
            else:
                lost.append(source)
        self.documents.forget_in_flight(finished)
        if lost:
            self.router.publish(
                [version_event(DOCUMENT_ACCEPTED, SOURCE, s, self.blobs.wrap(s)) for s in lost]
            )
        self.documents.progressed([*waiting, *((s.tenant, s.id) for s in lost)])
        RECONCILED.inc(len(lost))
        for source in lost:
            with log_context(document_id=source.id, tenant=source.tenant):
                log.warning("delivery lost: published again", extra={"version": source.version})
        return len(lost)

    def _carried_by_jobs(self) -> set[tuple[str, str, str]]:
        """The (tenant, id, version)s some delivery job carries: waiting, running or waiting
        for its next attempt, in any queue."""
        carried: set[tuple[str, str, str]] = set()
        for name in self.routing.queues():
            queue = Queue(name, connection=self.redis)
            ids = queue.get_job_ids()
            ids += StartedJobRegistry(queue=queue).get_job_ids(cleanup=False)
            scheduled = ScheduledJobRegistry(queue=queue)  # type: ignore[no-untyped-call]
            ids += scheduled.get_job_ids(cleanup=False)
            for job in Job.fetch_many(ids, connection=self.redis):
                events = (job.meta or {}).get("events", []) if job is not None else []
                carried |= {
                    (e.get("tenant"), e.get("document_id"), e.get("document_version"))
                    for e in events
                }
        return carried


def reconcile_in_background(reconciler: Reconciler, stop: threading.Event) -> threading.Thread:
    """Run the reconciler every `reconcile_interval_seconds` until `stop`, in a thread; a
    Redis lock lets one process of all that run it make each pass."""
    interval = reconciler.settings.reconcile_interval_seconds
    lock_key = f"{reconciler.documents.prefix}:reconciler"

    def loop() -> None:
        while not stop.wait(interval):
            try:
                if reconciler.redis.set(lock_key, "1", nx=True, ex=max(1, round(interval))):
                    reconciler.run_once(time.time())
            except RedisError as exc:  # Redis is away: the next pass tries again
                log.warning("reconciler pass skipped: %s", exc)

    thread = threading.Thread(target=loop, name="reconciler", daemon=True)
    thread.start()
    return thread
