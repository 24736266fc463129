"""The queue exporter: RQ queue gauges read from Redis at scrape time (`sluice exporter`).

One process for the whole deployment (the numbers are Redis's, not a process's), so the gauges
are not summed over replicas the way the workers' own counters are. Per queue:

- sluice_queue_depth{queue}: jobs waiting (LLEN of RQ's `rq:queue:<name>`, what KEDA scales on);
- sluice_queue_oldest_job_age_seconds{queue}: age of the job at the head of the queue (0 if none);
- sluice_queue_scheduled_jobs{queue}: deliveries waiting for their next attempt (backoff);
- sluice_queue_failed_jobs{queue}: the failed-job registry (the dead letter), expired ones excluded;
- sluice_workers{queue,state}: workers serving the queue, busy (running a job) or idle (any other
  state: idle, started, suspended).

`sluice_exporter_redis_up` is 1 when the last scrape read Redis, 0 when it could not; then the
queue gauges are left out of that scrape rather than reported stale.
"""

from __future__ import annotations

import logging
import signal
import threading
import time
from collections.abc import Iterable, Iterator
from datetime import UTC

from prometheus_client import REGISTRY, start_http_server
from prometheus_client.core import GaugeMetricFamily
from prometheus_client.registry import Collector
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Worker
from rq.job import Job
from rq.registry import FailedJobRegistry, ScheduledJobRegistry
from rq.utils import str_to_date
from rq.worker import WorkerStatus

log = logging.getLogger(__name__)
TIMEOUT_SECONDS = 2.0  # a scrape must answer even when Redis does not


class QueueCollector(Collector):
    """Reads the RQ queues' state from Redis on every collect()."""

    def __init__(self, redis: Redis, queues: Iterable[str]) -> None:
        self.redis = redis
        self.queues = sorted(set(queues))

    def collect(self) -> Iterator[GaugeMetricFamily]:
        """The gauges of every queue, and whether Redis answered."""
        up = GaugeMetricFamily(
            "sluice_exporter_redis_up", "Whether the last scrape could read the queues in Redis."
        )
        try:
            families = self._queue_families()
        except RedisError as exc:
            log.warning("cannot read the queues from Redis: %s", exc)
            up.add_metric([], 0)
            yield up
            return
        up.add_metric([], 1)
        yield up
        yield from families

    def _queue_families(self) -> list[GaugeMetricFamily]:
        depth = GaugeMetricFamily(
            "sluice_queue_depth", "Delivery jobs waiting in the RQ queue.", labels=["queue"]
        )
        age = GaugeMetricFamily(
            "sluice_queue_oldest_job_age_seconds",
            "Age of the oldest job waiting in the queue (0 if none waits).",
            labels=["queue"],
        )
        scheduled = GaugeMetricFamily(
            "sluice_queue_scheduled_jobs",
            "Deliveries waiting for their next attempt (retry backoff).",
            labels=["queue"],
        )
        failed = GaugeMetricFamily(
            "sluice_queue_failed_jobs",
            "Jobs in the queue's failed-job registry (the dead letter).",
            labels=["queue"],
        )
        workers = GaugeMetricFamily(
            "sluice_workers", "RQ workers serving the queue, by state.", labels=["queue", "state"]
        )
        now = time.time()
        for name in self.queues:
            queue = Queue(name, connection=self.redis)
            depth.add_metric([name], self.redis.llen(queue.key))
            age.add_metric([name], self._oldest_age(queue, now))
            scheduled_key = ScheduledJobRegistry(queue=queue).key  # type: ignore[no-untyped-call]
            scheduled.add_metric([name], self.redis.zcard(scheduled_key))
            failed.add_metric([name], self._failed(FailedJobRegistry(queue=queue).key, now))
            states = [w.get_state() for w in Worker.all(queue=queue)]
            busy = sum(state == WorkerStatus.BUSY for state in states)
            workers.add_metric([name, "busy"], busy)
            workers.add_metric([name, "idle"], len(states) - busy)
        return [depth, age, scheduled, failed, workers]

    def _oldest_age(self, queue: Queue, now: float) -> float:
        """Seconds since the job at the head of the queue (RQ pops from the left) was enqueued."""
        head = self.redis.lindex(queue.key, 0)
        if head is None:
            return 0.0
        job_id = head.decode() if isinstance(head, bytes) else str(head)
        raw = self.redis.hget(Job.key_for(job_id), "enqueued_at")
        if not raw:
            return 0.0
        enqueued = str_to_date(raw)
        if enqueued.tzinfo is None:  # RQ writes UTC without an offset
            enqueued = enqueued.replace(tzinfo=UTC)
        return max(0.0, now - enqueued.timestamp())

    def _failed(self, key: str, now: float) -> int:
        """Entries not yet expired (the score is the expiry; -1: kept forever)."""
        return int(self.redis.zcard(key)) - int(self.redis.zcount(key, 0, now))


def run_exporter(redis_url: str, queues: Iterable[str], host: str, port: int) -> None:
    """Serve the queue gauges on http://host:port/metrics until SIGTERM or SIGINT."""
    redis = Redis.from_url(
        redis_url, socket_timeout=TIMEOUT_SECONDS, socket_connect_timeout=TIMEOUT_SECONDS
    )
    REGISTRY.register(QueueCollector(redis, queues))
    server, _ = start_http_server(port, addr=host)
    stopped = threading.Event()
    for signum in (signal.SIGTERM, signal.SIGINT):
        signal.signal(signum, lambda *_: stopped.set())
    log.info("exporter serving /metrics", extra={"host": host, "port": port})
    stopped.wait()
    server.shutdown()
    redis.close()
    log.info("exporter stopped")
