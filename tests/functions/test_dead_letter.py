"""The broker's dead-letter sink keeps what Knative gave up on where `sluice dlq` finds it."""

from __future__ import annotations

import base64
import json

from cloudevents.conversion import to_binary
from cloudevents.http import CloudEvent
from dependency_injector import providers
from redis import Redis
from rq import Queue

from sluice.containers import QueuesContainer
from sluice.events import (
    DOCUMENT_EMBEDDED,
)
from sluice.settings import QueuesConfig, load_settings
from sluice.stores.documents import DocumentStore
from tests.functions.conftest import FunctionClient
from tests.functions.events import HASHING, accepted, embedded_event


def _dead_lettered(tenant: str, destination: str) -> CloudEvent:
    event = embedded_event(tenant)
    # What Knative's dispatcher adds when it dead-letters an event.
    event["knativeerrordest"] = destination
    event["knativeerrorcode"] = "500"
    event["knativeerrordata"] = base64.b64encode(b'{"error": {"message": "boom"}}').decode()
    return event


INDEX_URL = "http://index.example:8083/"


def test_a_dead_lettered_broker_event_becomes_a_failed_delivery_of_its_subscriber(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    queue = f"index-{tenant}"  # the index subscriber's queue, of this test alone
    routing = {"subscribers": {"index": {"url": INDEX_URL, "queue": queue}}}
    documents = DocumentStore(redis_client)
    documents.accept_many([accepted(tenant, "doc", "v1")], HASHING.key)
    event = _dead_lettered(tenant, INDEX_URL)
    headers, body = to_binary(event)

    response = function_client("dead_letter", routing=routing).post("/", headers=headers, data=body)

    assert response.status_code == 204, response.get_data(as_text=True)
    config = load_settings(QueuesConfig, routing=routing)
    container = QueuesContainer()  # what `sluice dlq` builds
    container.config.override(providers.Object(config))
    container.gateways.redis.override(providers.Object(redis_client))
    dead_letters = container.dead_letters()
    (entry,) = dead_letters.entries()
    assert (entry["subscriber"], entry["queue"], entry["document_id"], entry["tenant"]) == (
        "index",
        queue,
        "doc",
        tenant,
    )
    assert "500" in entry["error"] and "boom" in entry["error"]
    record = documents.get(tenant, "doc")
    assert record is not None and record.status == "failed" and "boom" in str(record.error)

    # A replay publishes the event as it was published, along the route, with its retry budget.
    assert dead_letters.replay({str(entry["job_id"])}) == 1
    assert dead_letters.entries() == []
    (job,) = Queue(queue, connection=redis_client).get_jobs()
    subscriber, events = job.args
    kept = json.loads(events[0])
    assert subscriber == "index" and kept["id"] == event["id"]
    assert not [k for k in kept if k.startswith("knativeerror")]
    (route,) = config.routing.routes_for(DOCUMENT_EMBEDDED)
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
