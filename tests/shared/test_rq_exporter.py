"""The queue exporter's gauges, read from a real Redis holding real RQ queues and registries."""

from __future__ import annotations

import uuid
from datetime import UTC, datetime, timedelta

import pytest
from prometheus_client import CollectorRegistry
from redis import Redis
from rq import Queue, Worker
from rq.job import Job
from rq.registry import FailedJobRegistry
from rq.worker import WorkerStatus

from dev.stack import free_port
from sluice.rq.exporter import QueueCollector


@pytest.fixture
def redis(private_redis: Redis) -> Redis:
    return private_redis


@pytest.fixture
def queue_name() -> str:
    return f"q-{uuid.uuid4().hex[:8]}"


def _scrape(redis: Redis, *queues: str) -> CollectorRegistry:
    registry = CollectorRegistry()
    registry.register(QueueCollector(redis, queues))
    return registry


def _value(registry: CollectorRegistry, name: str, **labels: str) -> float | None:
    return registry.get_sample_value(name, labels)


def test_an_empty_queue_reads_zero(redis: Redis, queue_name: str) -> None:
    registry = _scrape(redis, queue_name)
    assert _value(registry, "sluice_exporter_redis_up") == 1
    for name in (
        "sluice_queue_depth",
        "sluice_queue_oldest_job_age_seconds",
        "sluice_queue_scheduled_jobs",
        "sluice_queue_failed_jobs",
    ):
        assert _value(registry, name, queue=queue_name) == 0, name
    assert _value(registry, "sluice_workers", queue=queue_name, state="busy") == 0
    assert _value(registry, "sluice_workers", queue=queue_name, state="idle") == 0


def test_waiting_jobs_give_depth_and_the_oldest_age(redis: Redis, queue_name: str) -> None:
    queue = Queue(queue_name, connection=redis)
    first = queue.enqueue("builtins.print", "a")
    queue.enqueue("builtins.print", "b")
    queue.enqueue("builtins.print", "c")
    # Backdate the head job: its age must come from its own enqueued_at.
    first.enqueued_at = datetime.now(UTC) - timedelta(minutes=10)
    first.save()
    registry = _scrape(redis, queue_name)
    assert _value(registry, "sluice_queue_depth", queue=queue_name) == 3
    age = _value(registry, "sluice_queue_oldest_job_age_seconds", queue=queue_name)
    assert age is not None and 590 <= age <= 660


def test_scheduled_and_failed_registries_are_counted(redis: Redis, queue_name: str) -> None:
    queue = Queue(queue_name, connection=redis)
    queue.enqueue_in(timedelta(hours=1), "builtins.print", "later")
    queue.enqueue_in(timedelta(hours=2), "builtins.print", "much later")
    failed = FailedJobRegistry(queue=queue)
    for ttl in (3600, -1):  # -1: kept forever
        job = Job.create("builtins.print", connection=redis, origin=queue_name)
        failed.add(job, ttl=ttl)
    expired = Job.create("builtins.print", connection=redis, origin=queue_name)
    redis.zadd(failed.key, {expired.id: 1})  # expired long ago: no longer a dead letter
    registry = _scrape(redis, queue_name)
    assert _value(registry, "sluice_queue_scheduled_jobs", queue=queue_name) == 2
    assert _value(registry, "sluice_queue_failed_jobs", queue=queue_name) == 2
    assert _value(registry, "sluice_queue_depth", queue=queue_name) == 0


def test_workers_are_counted_busy_or_idle(redis: Redis, queue_name: str) -> None:
    queue = Queue(queue_name, connection=redis)
    workers = [Worker([queue], connection=redis, name=f"w{n}-{queue_name}") for n in range(3)]
    for worker in workers:
        worker.register_birth()
    workers[0].set_state(WorkerStatus.BUSY)
    workers[1].set_state(WorkerStatus.IDLE)
    try:
        registry = _scrape(redis, queue_name, "other-queue")
        assert _value(registry, "sluice_workers", queue=queue_name, state="busy") == 1
        assert _value(registry, "sluice_workers", queue=queue_name, state="idle") == 2
        assert _value(registry, "sluice_workers", queue="other-queue", state="idle") == 0
    finally:
        for worker in workers:
            worker.register_death()


def test_a_redis_outage_reads_as_down_not_as_an_error() -> None:
    unreachable = Redis(port=free_port(), socket_connect_timeout=0.5, socket_timeout=0.5)
    registry = _scrape(unreachable, "sluice-transform")
    assert _value(registry, "sluice_exporter_redis_up") == 0
    assert _value(registry, "sluice_queue_depth", queue="sluice-transform") is None
