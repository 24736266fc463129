"""The RQ delivery worker (`sluice worker`): runs `sluice.rq.jobs` for the queues it is given."""

from __future__ import annotations

import logging
import os
import threading
import time
import uuid
from typing import Any

from dependency_injector import containers, providers
from prometheus_client import start_http_server
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, SimpleWorker
from rq.executions import Execution, ExecutionRegistry
from rq.job import Job
from rq.worker import WorkerStatus

from sluice.containers import Gateways
from sluice.logs import configure_logging, errors_to_log
from sluice.rq.jobs import Delivery
from sluice.rq.reconciler import Reconciler, reconcile_in_background
from sluice.settings import WorkerConfig, WorkerSettings, load_settings

log = logging.getLogger(__name__)


class WorkerContainer(containers.DeclarativeContainer):
    """What a worker process builds once: the gateways and the delivery the jobs run."""

    wiring_config = containers.WiringConfiguration(modules=["sluice.rq.jobs"], auto_wire=False)

    config = providers.Singleton(load_settings, WorkerConfig)
    gateways = providers.Container(Gateways, config=config)
    documents = gateways.documents
    delivery = providers.Singleton(
        Delivery,
        config.provided.routing,
        gateways.http,
        gateways.router,
        gateways.queues,
        config.provided.internal.value.call(),
    )
    reconciler = providers.Singleton(
        Reconciler,
        config.provided.routing,
        config.provided.worker,
        gateways.redis,
        gateways.documents,
        gateways.blobs,
        gateways.router,
    )


class DeliveryWorker(SimpleWorker):
    """A worker that runs jobs in its own process (a delivery is one HTTP call: forking per
    job would only add latency) and renews the running job's heartbeat from a thread.

    RQ's SimpleWorker sends no heartbeat while a job runs, so a job counts as abandoned only
    when a heartbeat time-to-live as long as the job's timeout (plus a grace) has passed: a
    worker killed mid-delivery held its job for minutes. Here a thread renews the heartbeat
    every `heartbeat_seconds`, and three missed ones make the job abandoned; the next
    maintenance pass of a live worker then requeues it (its first retry is immediate).
    """

    def __init__(self, *args: Any, heartbeat_seconds: float = 5.0, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.heartbeat_seconds = heartbeat_seconds
        self.asked_to_stop = False
        self._job_done = threading.Event()

    def request_stop(self, signum: Any, frame: Any) -> None:
        """SIGTERM or SIGINT: finish the job at hand, then stop (RQ's warm shutdown)."""
        self.asked_to_stop = True
        super().request_stop(signum, frame)  # type: ignore[no-untyped-call]

    def get_heartbeat_ttl(self, job: Job, working_time: float = 0.0) -> int:
        """Seconds after which an execution without heartbeat counts as abandoned."""
        return max(1, round(3 * self.heartbeat_seconds))

    def execute_job(self, job: Job, queue: Queue) -> None:
        """Run the job, after forgetting the executions of workers that died running it.

        rq 3.0.0 keeps an execution in the job's ExecutionRegistry 60 s longer than the
        execution itself; when the job succeeds (and, with result_ttl 0, is deleted), RQ fetches
        every execution of that registry and fails on the expired one of the dead worker
        (`ValueError: Execution ... not found in Redis`), so a recovered job failed after it had
        run, again at every retry. Removing those stale entries first is the workaround
        (upstream, ExecutionRegistry.get_executions should skip executions that expired)."""
        _forget_dead_executions(job)
        execution = self.prepare_execution(job)
        self._job_done.clear()
        keeper = threading.Thread(
            target=self._keep_alive, args=(job, execution), name="heartbeat", daemon=True
        )
        keeper.start()
        try:
            self.perform_job(job, queue, execution)
        finally:
            self._job_done.set()
            keeper.join()
        self.set_state(WorkerStatus.IDLE)

    def handle_job_success(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> None:
        """Stop renewing the heartbeat before RQ deletes the execution."""
        self._job_done.set()
        super().handle_job_success(job, queue, *args, **kwargs)

    def handle_job_failure(self, job: Job, queue: Queue, *args: Any, **kwargs: Any) -> None:
        """Stop renewing the heartbeat before RQ deletes the execution."""
        self._job_done.set()
        super().handle_job_failure(job, queue, *args, **kwargs)

    def _keep_alive(self, job: Job, execution: Execution) -> None:
        """Renew the worker's, the execution's and the job's heartbeats while the job runs."""
        while not self._job_done.wait(self.heartbeat_seconds):
            try:
                self.maintain_heartbeats(job, execution)
            except RedisError as exc:  # the job itself will notice; keep trying meanwhile
                log.warning("cannot renew the job's heartbeat: %s", exc)


def _forget_dead_executions(job: Job) -> None:
    registry = ExecutionRegistry(job_id=job.id, connection=job.connection)
    stale = [
        execution
        for execution_id in registry.get_execution_ids()
        if not job.connection.exists(
            (execution := Execution(id=execution_id, job_id=job.id, connection=job.connection)).key
        )
    ]
    if stale:
        with job.connection.pipeline() as pipe:
            for execution in stale:
                registry.remove(execution, pipeline=pipe)
            pipe.execute()


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
    http://metrics_host:metrics_port/metrics if a port is given.

    RQ's worker quits on most Redis errors (a Redis restart stops every busy worker); so as long
    as nobody asked it to stop, a new worker takes its place once Redis answers again, waiting
    with exponential backoff. The container is wired here and its resources closed at the end.
    """
    config = container.config()
    configure_logging("worker", config.logging.level)
    if metrics_port is not None:
        server, _ = start_http_server(metrics_port, addr=metrics_host)
        # RQ forks its scheduler from this process: the child must not inherit the listening
        # socket, or it keeps the port taken (with nobody answering) after the worker is gone.
        os.register_at_fork(after_in_child=server.socket.close)
    # What multiprocessing prints of the forked scheduler's death goes to the JSON log too.
    os.register_at_fork(after_in_child=errors_to_log)
    container.wire()
    redis = container.gateways.redis()
    names = queue_names or config.routing.queues()
    stop_reconciling = threading.Event()
    if not burst:
        reconcile_in_background(container.reconciler(), stop_reconciling)
    try:
        while True:
            worker = _new_worker(redis, names, name, config.worker)
            started = time.monotonic()
            try:
                worked = worker.work(with_scheduler=True, burst=burst)
            except RedisError as exc:  # RQ's own last words (register_death) need Redis too
                log.warning("the worker lost Redis while stopping: %s", exc)
                worked = False
            if burst or worker.asked_to_stop:
                return worked
            log.warning("the worker stopped unasked (Redis unreachable?): starting another")
            _wait_for(redis, first_wait=1.0 if time.monotonic() - started > 60 else 5.0)
    finally:
        stop_reconciling.set()
        container.unwire()
        container.shutdown_resources()


def _new_worker(
    redis: Redis, queues: list[str], name: str | None, settings: WorkerSettings
) -> DeliveryWorker:
    interval = settings.maintenance_interval_seconds
    # RQ runs maintenance (which retries abandoned jobs) only between blocking dequeues, whose
    # timeout is worker_ttl - 15 s: tie it to the maintenance interval, or an idle worker would
    # leave a dead worker's job alone for minutes.
    return DeliveryWorker(
        [Queue(n, connection=redis) for n in queues],
        connection=redis,
        name=f"{name}-{uuid.uuid4().hex[:6]}" if name else None,
        maintenance_interval=interval,
        worker_ttl=interval + 15,
        heartbeat_seconds=settings.heartbeat_seconds,
    )


def _wait_for(redis: Redis, first_wait: float, longest_wait: float = 30.0) -> None:
    """Return once Redis answers a PING, waiting longer and longer between tries."""
    wait = first_wait
    while True:
        try:
            redis.ping()
            return
        except RedisError as exc:
            log.warning("Redis does not answer (%s): trying again in %.0f s", exc, wait)
        time.sleep(wait)
        wait = min(wait * 2, longest_wait)
