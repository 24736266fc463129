"""The reconciler publishes again what was accepted but whose delivery was lost, and nothing
else (issue 11: when ingest was killed or Redis went away in the middle of a batch, documents
stayed `accepted` forever, in no dead letter or metric)."""

from __future__ import annotations

import time
import uuid

import httpx
import pytest
from redis import Redis
from rq import Queue

from sluice.events import DOCUMENT_ACCEPTED, DocumentAccepted, now_iso, version_event
from sluice.lifecycle import Status, Transition
from sluice.metrics import RECONCILED
from sluice.routing import create_router
from sluice.rq.publisher import RqPublisher
from sluice.rq.reconciler import Reconciler
from sluice.settings import QueuesConfig, WorkerSettings, load_settings
from sluice.stores.blobs import BlobStore
from sluice.stores.documents import DocumentStore

IDENTITY = "hashing:384:1"


def _source(tenant: str, doc_id: str) -> DocumentAccepted:
    return DocumentAccepted(
        id=doc_id,
        tenant=tenant,
        version="v1",
        title="",
        text=f"The text of {doc_id}.",
        metadata={},
        accepted_at=now_iso(),
    )


@pytest.fixture
def parts(private_redis: Redis) -> tuple[Reconciler, DocumentStore, Queue]:
    prefix = f"r{uuid.uuid4().hex[:8]}"
    queue_name = f"{prefix}-transform"
    routing = load_settings(
        QueuesConfig,
        routing={"transport": "rq", "subscribers": {"transform": {"queue": queue_name}}},
    ).routing
    documents = DocumentStore(private_redis, prefix)
    blobs = BlobStore(private_redis, prefix, threshold_bytes=1_000_000, ttl_seconds=600)
    router = create_router(routing, httpx.Client(), RqPublisher(routing, private_redis))
    settings = WorkerSettings(reconcile_after_seconds=60)
    reconciler = Reconciler(routing, settings, private_redis, documents, blobs, router)
    return reconciler, documents, Queue(queue_name, connection=private_redis)


def test_a_version_accepted_but_never_published_is_published_again(
    parts: tuple[Reconciler, DocumentStore, Queue],
) -> None:
    reconciler, documents, queue = parts
    documents.accept_many([_source("t", "lost")], IDENTITY)  # ingest died right after this
    assert reconciler.run_once(time.time()) == 0  # too recent: it may still be published
    before = RECONCILED._value.get()

    assert reconciler.run_once(time.time() + 61) == 1

    (job,) = queue.get_jobs()
    assert [e["document_id"] for e in job.meta["events"]] == ["lost"]
    assert RECONCILED._value.get() == before + 1
    assert reconciler.run_once(time.time() + 61) == 0  # its job now carries it


def test_versions_a_job_carries_or_that_reached_a_final_status_are_left_alone(
    parts: tuple[Reconciler, DocumentStore, Queue],
) -> None:
    reconciler, documents, queue = parts
    sources = [_source("t", "carried"), _source("t", "indexed")]
    documents.accept_many(sources, IDENTITY)
    reconciler.router.publish([version_event(DOCUMENT_ACCEPTED, "/tests", sources[0])])
    documents.transition_many([Transition("t", "indexed", "v1", Status.INDEXED)])

    assert reconciler.run_once(time.time() + 61) == 0
    assert len(queue.get_jobs()) == 1  # only the job published above
