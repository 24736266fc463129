"""Transform answers events by Knative's reply contract (a real Redis, no Milvus)."""

from __future__ import annotations

import json

from cloudevents.conversion import to_binary, to_dict, to_structured
from cloudevents.http import CloudEvent, from_http
from redis import Redis

from sluice.codec import BATCH
from sluice.events import (
    DOCUMENT_ACCEPTED,
    DOCUMENT_EMBEDDED,
)
from sluice.stores.documents import DocumentStore
from tests.functions.conftest import FunctionClient
from tests.functions.events import HASHING, accepted, accepted_event


def test_transform_replies_with_the_embedded_event_in_both_modes(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    client = function_client("transform")
    documents = DocumentStore(redis_client)
    for convert in (to_binary, to_structured):
        documents.accept_many([accepted(tenant, "doc", f"v-{convert.__name__}")], HASHING.key)
        event = accepted_event(tenant, version=f"v-{convert.__name__}")
        headers, body = convert(event)
        response = client.post("/", headers=headers, data=body)
        assert response.status_code == 200, response.get_data(as_text=True)
        reply = from_http(dict(response.headers), response.get_data())
        assert reply["type"] == DOCUMENT_EMBEDDED
        assert reply["subject"] == "doc" and reply["tenant"] == tenant
        chunks = reply.data["chunks"]
        assert chunks and all(len(c["vector"]) == 384 for c in chunks)
        record = documents.get(tenant, "doc")
        assert record is not None and record.status == "embedded"
        assert record.chunks == len(chunks)


def test_transform_ignores_a_superseded_version(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    DocumentStore(redis_client).accept_many([accepted(tenant, "doc", "v2")], HASHING.key)
    headers, body = to_binary(accepted_event(tenant, version="v1"))
    response = function_client("transform").post("/", headers=headers, data=body)
    assert response.status_code == 204


def test_transform_rejects_bad_events_without_retry(
    function_client: FunctionClient, tenant: str
) -> None:
    client = function_client("transform")
    plain = client.post("/", json={"id": "doc"})
    assert (plain.status_code, plain.get_json()["error"]["code"]) == (400, "not_a_cloudevent")
    wrong_type = CloudEvent({"type": DOCUMENT_EMBEDDED, "source": "/t"}, {"id": "x"})
    response = client.post("/", headers=to_binary(wrong_type)[0], data=to_binary(wrong_type)[1])
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        400,
        "unknown_event_type",
    )
    missing = CloudEvent({"type": DOCUMENT_ACCEPTED, "source": "/t"}, {"id": "x"})
    headers, body = to_structured(missing)
    response = client.post("/", headers=headers, data=body)
    assert response.status_code == 422
    assert {d["field"] for d in response.get_json()["error"]["details"]} >= {"tenant", "text"}


def test_transform_answers_a_batch_with_a_batch(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    DocumentStore(redis_client).accept_many(
        [accepted(tenant, "a"), accepted(tenant, "b")], HASHING.key
    )
    batch = [to_dict(accepted_event(tenant, doc_id)) for doc_id in ("a", "b")]
    client = function_client("transform")
    response = client.post("/", data=json.dumps(batch), headers={"content-type": BATCH})
    assert response.status_code == 200
    assert response.mimetype == BATCH
    replies = response.get_json()
    assert [(r["type"], r["subject"]) for r in replies] == [
        (DOCUMENT_EMBEDDED, "a"),
        (DOCUMENT_EMBEDDED, "b"),
    ]

    wrong = [*batch, {**batch[0], "type": DOCUMENT_EMBEDDED}]
    response = client.post("/", data=json.dumps(wrong), headers={"content-type": BATCH})
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        400,
        "unknown_event_type",
    )
    response = client.post("/", data=b"[]", headers={"content-type": BATCH})
    assert (response.status_code, response.get_json()["error"]["code"]) == (
        400,
        "invalid_cloudevent",
    )
