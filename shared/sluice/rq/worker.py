"""The RQ delivery worker (`sluice worker`): runs `sluice.rq.jobs` for the queues it is given."""

from __future__ import annotations

import os
import uuid
from typing import Any

from dependency_injector import containers, providers
from prometheus_client import start_http_server
from rq import Queue, SimpleWorker
from rq.job import Job

from sluice.containers import Gateways
from sluice.logs import configure_logging
from sluice.rq.jobs import Delivery
from sluice.settings import WorkerConfig, load_settings


class WorkerContainer(containers.DeclarativeContainer):
    """What a worker process builds once: the gateways and the delivery the jobs run."""

    wiring_config = containers.WiringConfiguration(modules=["sluice.rq.jobs"], auto_wire=False)

    config = providers.Singleton(load_settings, WorkerConfig)
    gateways = providers.Container(Gateways, config=config)
    documents = gateways.documents
    delivery = providers.Singleton(
        Delivery, config.provided.routing, gateways.http, gateways.router, gateways.queues
    )


class DeliveryWorker(SimpleWorker):
    """A worker that runs jobs in its own process (a delivery is one HTTP call: forking per
    job would only add latency) and declares a job abandoned soon after its timeout.

    RQ's default grace is 60 s past the job timeout before a job whose worker died is retried;
    ours is `worker.abandoned_grace_seconds`, since a delivery can never outlive its timeout.
    """

    def __init__(self, *args: Any, abandoned_grace_seconds: int = 10, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.abandoned_grace_seconds = abandoned_grace_seconds

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """Seconds after which an execution without heartbeat counts as abandoned."""
        timeout = job.timeout if job.timeout and job.timeout > 0 else 180
        return int(timeout) + self.abandoned_grace_seconds


def run_worker(
    container: WorkerContainer,
    queue_names: list[str],
    *,
    name: str | None = None,
    burst: bool = False,
    metrics_port: int | None = None,
    metrics_host: str = "127.0.0.1",
) -> bool:
    """Work on the named queues (all subscribers' queues if none) until stopped (or, with
    `burst`, until they are empty); serve the process's metrics on
    http://metrics_host:metrics_port/metrics if a port is given. The container is wired here
    and its resources are closed at the end."""
    config = container.config()
    configure_logging("worker", config.logging.level)
    if metrics_port is not None:
        server, _ = start_http_server(metrics_port, addr=metrics_host)
        # RQ forks its scheduler from this process: the child must not inherit the listening
        # socket, or it keeps the port taken (with nobody answering) after the worker is gone.
        os.register_at_fork(after_in_child=server.socket.close)
    container.wire()
    redis = container.gateways.redis()
    names = queue_names or config.routing.queues()
    interval = config.worker.maintenance_interval_seconds
    # RQ runs maintenance (which retries abandoned jobs) only between blocking dequeues, whose
    # timeout is worker_ttl - 15 s: tie it to the maintenance interval, or an idle worker would
    # leave a dead worker's job alone for minutes.
    worker = DeliveryWorker(
        [Queue(n, connection=redis) for n in names],
        connection=redis,
        name=f"{name}-{uuid.uuid4().hex[:6]}" if name else None,
        maintenance_interval=interval,
        worker_ttl=interval + 15,
        abandoned_grace_seconds=config.worker.abandoned_grace_seconds,
    )
    try:
        return worker.work(with_scheduler=True, burst=burst)
    finally:
        container.unwire()
        container.shutdown_resources()
