"""The broker's dead-letter sink keeps what Knative gave up on where `sluice dlq` finds it."""

from __future__ import annotations

import base64
import json

from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from redis import Redis
from rq.job import Job

from dev.stack import Stack
from sluice.cli import failed_deliveries
from sluice.embedders.identity import EmbedderIdentity
from sluice.events import (
    DOCUMENT_EMBEDDED,
    DocumentEmbedded,
    EmbeddedChunk,
    make_event,
    now_iso,
)
from sluice.settings import load_settings
from sluice.stores.documents import DocumentStore
from tests.functions.conftest import FunctionClient


def _dead_lettered(tenant: str, destination: str) -> CloudEvent:
    payload = DocumentEmbedded(
        id="doc",
        tenant=tenant,
        version="v1",
        title="",
        metadata={},
        accepted_at=now_iso(),
        embedder=EmbedderIdentity(name="hashing", dim=384, version="1"),
        chunks=[EmbeddedChunk(chunk=0, start=0, end=4, text="text", vector=[0.1] * 384)],
    )
    event = make_event(
        DOCUMENT_EMBEDDED, "/tests", payload, subject="doc", tenant=tenant, version="v1"
    )
    # What Knative's dispatcher adds when it dead-letters an event.
    event["knativeerrordest"] = destination
    event["knativeerrorcode"] = "500"
    event["knativeerrordata"] = base64.b64encode(b'{"error": {"message": "boom"}}').decode()
    return event


def test_a_dead_lettered_broker_event_becomes_a_failed_delivery_of_its_subscriber(
    function_client: FunctionClient, stack: Stack, redis_client: Redis, tenant: str
) -> None:
    documents = DocumentStore(redis_client)
    documents.accept_many([(tenant, "doc", "v1")], "hashing:384:1")
    event = _dead_lettered(tenant, stack.url("index") + "/")
    headers, body = to_binary(event)

    response = function_client("dead_letter").post("/", headers=headers, data=body)

    assert response.status_code == 204, response.get_data(as_text=True)
    settings = load_settings()
    mine = [e for e in failed_deliveries(settings) if e["tenant"] == tenant]
    assert len(mine) == 1
    entry = mine[0]
    assert (entry["subscriber"], entry["queue"], entry["document_id"]) == (
        "index",
        "sluice-index",
        "doc",
    )
    assert "500" in entry["error"] and "boom" in entry["error"]
    record = documents.get(tenant, "doc")
    assert record is not None and record.status == "failed"

    # A replay delivers the event as it was published, with the route's retry budget
    # (`sluice dlq replay` restores retries_left from the intervals).
    job = Job.fetch(str(entry["job_id"]), connection=redis_client)
    subscriber, events = job.args
    kept = json.loads(events[0])
    assert subscriber == "index" and kept["id"] == event["id"]
    assert not [k for k in kept if k.startswith("knativeerror")]
    route = next(r for r in settings.routing.routes if r.event == DOCUMENT_EMBEDDED)
    assert job.retry_intervals == route.retry.intervals()


def test_an_event_type_nobody_routes_is_refused(
    function_client: FunctionClient, tenant: str
) -> None:
    event = CloudEvent(
        {"type": "dev.sluice.document.indexed", "source": "/tests", "subject": "doc"}, {"a": 1}
    )
    headers, body = to_binary(event)
    response = function_client("dead_letter").post("/", headers=headers, data=body)
    assert response.status_code == 400
    assert response.get_json()["error"]["code"] == "unknown_event_type"
