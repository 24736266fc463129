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


def test_ingest_lists_and_replays_only_the_keys_tenants_dead_letters(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    """What the web console's operations page uses: ingest's `/dead-letters` routes."""
    other = f"{tenant}x"
    queue = f"index-{tenant}"
    routing = {"subscribers": {"index": {"url": INDEX_URL, "queue": queue}}}
    sink = function_client("dead_letter", routing=routing)
    for owner in (tenant, other):
        headers, body = to_binary(_dead_lettered(owner, INDEX_URL))
        assert sink.post("/", headers=headers, data=body).status_code == 204
    keys = {"key-mine-secret": tenant, "key-theirs-secret": other}
    ingest = function_client("ingest", routing=routing, auth={"api_keys": keys})
    mine = {"Authorization": "Bearer key-mine-secret"}
    theirs = {"Authorization": "Bearer key-theirs-secret"}

    assert ingest.get("/dead-letters").status_code == 401
    assert ingest.post("/dead-letters/replay", json={"all": True}).status_code == 401
    (entry,) = ingest.get("/dead-letters", headers=mine).get_json()["dead_letters"]
    assert (entry["tenant"], entry["document_id"], entry["subscriber"]) == (tenant, "doc", "index")
    assert "boom" in entry["error"] and entry["failed_at"]
    (their_entry,) = ingest.get("/dead-letters", headers=theirs).get_json()["dead_letters"]
    assert ingest.get(f"/dead-letters?tenant={other}", headers=mine).status_code == 403

    # Another tenant's job id replays nothing; "all" is all of the key's own.
    stolen = ingest.post(
        "/dead-letters/replay", json={"job_ids": [their_entry["job_id"]]}, headers=mine
    )
    assert stolen.status_code == 200 and stolen.get_json() == {"replayed": 0}
    done = ingest.post("/dead-letters/replay", json={"all": True}, headers=mine)
    assert done.get_json() == {"replayed": 1}
    assert ingest.get("/dead-letters", headers=mine).get_json()["dead_letters"] == []
    assert len(ingest.get("/dead-letters", headers=theirs).get_json()["dead_letters"]) == 1
    assert Queue(queue, connection=redis_client).count == 1  # the replayed delivery

    bad_bodies = [{}, {"all": True, "job_ids": ["x"]}, {"job_ids": []}, {"all": False}, {"x": 1}]
    bad_bodies += [{"all": 1}, {"all": "yes"}, {"job_ids": "x"}]  # "all" means true, nothing else
    for bad in bad_bodies:
        response = ingest.post("/dead-letters/replay", json=bad, headers=mine)
        assert response.status_code == 422, bad
        assert response.get_json()["error"]["code"] == "validation_failed"


def test_without_keys_every_dead_letter_shows_and_a_tenant_narrows_them(
    function_client: FunctionClient, tenant: str
) -> None:
    queue = f"index-{tenant}"
    routing = {"subscribers": {"index": {"url": INDEX_URL, "queue": queue}}}
    sink = function_client("dead_letter", routing=routing)
    for owner in (tenant, f"{tenant}x"):
        headers, body = to_binary(_dead_lettered(owner, INDEX_URL))
        assert sink.post("/", headers=headers, data=body).status_code == 204
    ingest = function_client("ingest", routing=routing)

    assert len(ingest.get("/dead-letters").get_json()["dead_letters"]) == 2
    (entry,) = ingest.get(f"/dead-letters?tenant={tenant}").get_json()["dead_letters"]
    assert entry["tenant"] == tenant
