"""Faults on the real stack: a worker killed mid-job, a function down, a poison event."""

from __future__ import annotations

import json
import os
import signal
import subprocess

import httpx
from redis import Redis
from rq import Queue
from rq.registry import FailedJobRegistry, StartedJobRegistry

from dev.stack import BIN, ROOT, Stack
from sluice.events import DOCUMENT_ACCEPTED, DocumentAccepted, make_event, now_iso
from sluice.rq.publisher import RqPublisher
from sluice.settings import QueuesConfig, load_settings
from sluice.stores.milvus import ChunkStore
from tests.conftest import document_rows, publish_unclaimable, wait_for, wait_status
from tests.integration.test_pipeline import expected_chunks

TRANSFORM_WORKERS = ("worker-transform-1", "worker-transform-2")


def test_a_worker_killed_mid_job_loses_nothing(
    stack: Stack, ingest: httpx.Client, redis_client: Redis, chunk_store: ChunkStore, tenant: str
) -> None:
    transform = stack.pid("transform")
    assert transform is not None
    os.killpg(transform, signal.SIGSTOP)  # its deliveries hang inside the HTTP call
    try:
        text = "Killed in the middle of its delivery. " * 80
        response = ingest.post(
            "/documents", json={"id": "survivor", "text": text, "tenant": tenant}
        )
        assert response.status_code == 202
        started = StartedJobRegistry("sluice-transform", connection=redis_client)
        wait_for(lambda: started.count > 0, 20, "the delivery job to start")
        for name in TRANSFORM_WORKERS:
            stack.kill(name)
    finally:
        os.killpg(transform, signal.SIGCONT)
    for name in TRANSFORM_WORKERS:
        stack.start(name)
    # The dead workers' job is abandoned after three missed heartbeats and requeued (its first
    # retry is immediate) by the next maintenance pass of a live worker.
    record = wait_status(ingest, "survivor", tenant, "indexed", timeout=60)
    assert record["chunks"] == len(expected_chunks(text))
    rows = document_rows(chunk_store, tenant, "survivor", ["chunk_id"])
    assert len(rows) == record["chunks"]
    assert len({r["chunk_id"] for r in rows}) == len(rows)


def test_a_delivery_to_a_stopped_function_succeeds_once_it_is_back(
    stack: Stack, ingest: httpx.Client, chunk_store: ChunkStore, tenant: str
) -> None:
    stack.stop("index")
    try:
        text = "Waiting for the index function to come back. " * 30
        ingest.post("/documents", json={"id": "patient", "text": text, "tenant": tenant})
        wait_status(ingest, "patient", tenant, "embedded", timeout=30)
        failures = wait_for(
            lambda: _log_count(stack, "worker-index-1", "will retry"),
            30,
            "a failed delivery attempt to index",
        )
        assert failures
    finally:
        stack.start("index")
        stack.wait_ready("index")
    wait_status(ingest, "patient", tenant, "indexed", timeout=90)
    assert chunk_store.count(tenant, "patient") == len(expected_chunks(text))


def _log_count(stack: Stack, name: str, needle: str) -> int:
    return stack.log_path(name).read_text(errors="replace").count(needle)


def test_a_poison_event_is_dead_lettered_at_once_and_replays_after_the_fix(
    stack: Stack, ingest: httpx.Client, redis_client: Redis, chunk_store: ChunkStore, tenant: str
) -> None:
    # A document whose payload went by claim check, and the claim check is gone: transform
    # answers 422 (permanent), so the delivery must not be retried but dead-lettered.
    document = DocumentAccepted(
        id="poison",
        tenant=tenant,
        version="v1",
        title="",
        text="Recovered from the dead letter. " * 20,
        metadata={},
        accepted_at=now_iso(),
    )
    key = publish_unclaimable(redis_client, document)

    record = wait_status(ingest, "poison", tenant, "failed", timeout=30)
    assert "claim check" in str(record["error"])
    failed = FailedJobRegistry(queue=Queue("sluice-transform", connection=redis_client))
    assert failed.count >= 1
    listed = [json.loads(line) for line in _sluice(stack, "dlq", "--direct", "list").splitlines()]
    mine = [entry for entry in listed if entry.get("tenant") == tenant]
    assert len(mine) == 1 and mine[0]["document_id"] == "poison"
    assert "claim_check_missing" in mine[0]["error"] or "claim check" in mine[0]["error"]
    assert chunk_store.count(tenant) == 0

    redis_client.set(key, document.model_dump_json())  # the fix: the payload is back
    _sluice(stack, "dlq", "--direct", "replay", mine[0]["job_id"])
    wait_status(ingest, "poison", tenant, "indexed", timeout=30)
    assert chunk_store.count(tenant, "poison") == len(expected_chunks(document.text))


def _sluice(stack: Stack, *args: str) -> str:
    result = subprocess.run(
        [str(BIN / "sluice"), *args],
        cwd=ROOT,
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=60,
        check=False,
    )
    assert result.returncode == 0, result.stderr
    return result.stdout


def test_a_poison_event_in_a_batch_fails_alone(
    stack: Stack, ingest: httpx.Client, redis_client: Redis, chunk_store: ChunkStore, tenant: str
) -> None:
    routing = load_settings(QueuesConfig).routing
    events = []
    for name in ("good-1", "bad", "good-2"):
        document = DocumentAccepted(
            id=name,
            tenant=tenant,
            version="v1",
            title="",
            text=f"The {name} document of a batch. " * 10,
            metadata={},
            accepted_at=now_iso(),
        )
        redis_client.hset(
            f"sluice:doc:{tenant}:{name}",
            mapping={"version": "v1", "status": "accepted", "chunks": 0},
        )
        event = make_event(
            DOCUMENT_ACCEPTED, "/tests", document, subject=name, tenant=tenant, version="v1"
        )
        if name == "bad":
            event.data = {"claim_check": f"sluice:blob:missing-{tenant}"}
        events.append(event)
    RqPublisher(routing, redis_client).publish(routing.routes_for(DOCUMENT_ACCEPTED), events)

    for name in ("good-1", "good-2"):
        wait_status(ingest, name, tenant, "indexed", timeout=30)
    assert wait_status(ingest, "bad", tenant, "failed", timeout=30)["error"]
    listed = [json.loads(line) for line in _sluice(stack, "dlq", "--direct", "list").splitlines()]
    assert [e["document_id"] for e in listed if e.get("tenant") == tenant] == ["bad"]
    assert chunk_store.count(tenant, "bad") == 0
