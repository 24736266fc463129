"""The delivery worker: a job recovered from a dead worker runs to success once (issue 11:
each successful rerun failed inside rq 3.0.0 with `ValueError: Execution ... not found in
Redis`, and after its retries the job sat in the dead letter of a document long indexed)."""

from __future__ import annotations

import json
import os
import shutil
import signal
import subprocess
import time
import uuid
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import RedisError
from rq import Queue, Retry, Worker
from rq.executions import prepare_execution
from rq.job import Job, JobStatus
from rq.registry import FailedJobRegistry, StartedJobRegistry

from dev.stack import BIN, ROOT, free_port
from sluice.rq.worker import DeliveryWorker
from tests.conftest import wait_for


def _dead_worker_left(job: Job, queue: Queue, redis: Redis, heartbeat_ttl: int) -> None:
    """What a worker killed mid-job leaves: the job started, its execution registered, and
    nobody to finish it (its heartbeat then expires)."""
    dead = Worker([queue], connection=redis, name=f"dead-{uuid.uuid4().hex[:6]}")
    dead.get_heartbeat_ttl = lambda job, working_time=0.0: heartbeat_ttl  # type: ignore[method-assign]
    queue.remove(job)
    job.prepare_for_execution(dead.name, redis.pipeline())
    job.set_status(JobStatus.STARTED)
    prepare_execution(dead, job)


def test_a_job_recovered_from_a_dead_worker_runs_to_success_once(private_redis: Redis) -> None:
    queue = Queue(f"recovered-{uuid.uuid4().hex[:8]}", connection=private_redis)
    job = queue.enqueue("builtins.len", "abc", retry=Retry(max=3), result_ttl=0, job_timeout=5)
    _dead_worker_left(job, queue, private_redis, heartbeat_ttl=1)
    time.sleep(1.5)  # the execution's heartbeat has expired: the job is abandoned
    StartedJobRegistry(queue=queue).cleanup()  # what a live worker's maintenance does
    assert job.get_status(refresh=True) in (JobStatus.QUEUED, JobStatus.SCHEDULED)

    worker = DeliveryWorker([queue], connection=private_redis)
    worker.work(burst=True, with_scheduler=False)

    worker.refresh()
    assert (worker.successful_job_count, worker.failed_job_count) == (1, 0)
    assert FailedJobRegistry(queue=queue).get_job_ids() == []
    assert queue.count == 0 and not Job.exists(job.id, connection=private_redis)


def _redis_server(port: int, directory: Path) -> subprocess.Popen[bytes]:
    command = [shutil.which("redis-server") or "redis-server", "--port", str(port)]
    command += ["--bind", "127.0.0.1", "--save", "", "--appendonly", "no", "--dir", str(directory)]
    process = subprocess.Popen(command, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    client = Redis(port=port, socket_connect_timeout=0.2)
    deadline = time.monotonic() + 10
    while True:
        try:
            client.ping()
            return process
        except RedisError:
            if time.monotonic() > deadline:
                raise
            time.sleep(0.05)


@pytest.mark.stack
def test_a_worker_rides_out_a_redis_restart_and_logs_only_json(tmp_path: Path) -> None:
    # Issue 11: a Redis restart stopped every busy worker for good, and the RQ scheduler's
    # dying traceback reached the log as plain text.
    port = free_port()
    server = _redis_server(port, tmp_path)
    queue_name = "riding-out"
    log = (tmp_path / "worker.log").open("wb")
    env = {
        **os.environ,
        "SLUICE_CONF_DIR": str(ROOT / "conf"),
        "SLUICE_REDIS__URL": f"redis://127.0.0.1:{port}/0",
        "SLUICE_WORKER__MAINTENANCE_INTERVAL_SECONDS": "1",
    }
    worker = subprocess.Popen(
        [str(BIN / "sluice"), "worker", "--queue", queue_name],
        env=env,
        stdout=log,
        stderr=log,
        start_new_session=True,
    )
    redis = Redis(port=port, socket_timeout=2)
    try:
        wait_for(lambda: Worker.all(connection=redis), 30, "the worker to register")
        busy = Queue(queue_name, connection=redis).enqueue("time.sleep", 3, job_timeout=30)
        wait_for(lambda: busy.get_status(refresh=True) == JobStatus.STARTED, 30, "a busy worker")
        server.kill()
        server.wait()
        time.sleep(5)  # the job ends with Redis gone: the worker cannot record it
        server = _redis_server(port, tmp_path)
        job = Queue(queue_name, connection=redis).enqueue("builtins.len", "abc", result_ttl=60)
        wait_for(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, 60, "the job")
        assert worker.poll() is None
    finally:
        worker.terminate()
        assert worker.wait(timeout=30) == 0
        server.kill()
        log.close()
    lines = (tmp_path / "worker.log").read_text().splitlines()
    assert lines
    for line in lines:
        json.loads(line)  # every line a JSON object


def _worker(redis_port: int, queue_name: str, log: Path) -> subprocess.Popen[bytes]:
    env = {
        **os.environ,
        "SLUICE_CONF_DIR": str(ROOT / "conf"),
        "SLUICE_REDIS__URL": f"redis://127.0.0.1:{redis_port}/0",
        "SLUICE_WORKER__MAINTENANCE_INTERVAL_SECONDS": "1",
        "SLUICE_WORKER__HEARTBEAT_SECONDS": "1",
    }
    with log.open("ab") as out:
        return subprocess.Popen(
            [str(BIN / "sluice"), "worker", "--queue", queue_name],
            env=env,
            stdout=out,
            stderr=out,
            start_new_session=True,
        )


@pytest.mark.stack
def test_a_job_of_a_worker_killed_mid_job_is_taken_up_by_heartbeat_not_timeout(
    tmp_path: Path,
) -> None:
    # Issue 11: RQ's SimpleWorker sends no heartbeat while a job runs, so a killed worker's
    # job waited its whole timeout (here an hour) before anyone took it up again.
    port = free_port()
    server = _redis_server(port, tmp_path)
    redis = Redis(port=port, socket_timeout=5)
    queue = Queue("killed-mid-job", connection=redis)
    first = _worker(port, queue.name, tmp_path / "first.log")
    second = None
    try:
        job = queue.enqueue("time.sleep", 3, job_timeout=3600, retry=Retry(2, [0]), result_ttl=60)
        wait_for(lambda: job.get_status(refresh=True) == JobStatus.STARTED, 30, "the job")
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        second = _worker(port, queue.name, tmp_path / "second.log")
        wait_for(lambda: job.get_status(refresh=True) == JobStatus.FINISHED, 60, "the rerun")
    finally:
        for worker in (first, second):
            if worker is not None and worker.poll() is None:
                worker.terminate()
                worker.wait(timeout=30)
        server.kill()
