"""Index answers events by Knative's reply contract (a real Redis, and the stack's Milvus)."""

from __future__ import annotations

import pytest
from cloudevents.conversion import to_binary
from flask.testing import FlaskClient
from redis import Redis

from dev.stack import Stack
from sluice.embedders.identity import EmbedderIdentity
from sluice.events import (
    DOCUMENT_DELETED,
    DocumentDeleted,
    make_event,
    now_iso,
)
from sluice.stores.documents import DocumentStore
from tests.functions.conftest import FunctionClient
from tests.functions.events import HASHING, accepted, embedded_event


@pytest.fixture
def index(function_client: FunctionClient, stack: Stack) -> FlaskClient:
    """The index function, writing to the stack's milvus-lite."""
    return function_client("index", milvus={"uri": stack.url("milvus")})


def test_index_refuses_vectors_of_another_embedder(index: FlaskClient, tenant: str) -> None:
    event = embedded_event(tenant, EmbedderIdentity(name="other-model", dim=384, version="1"))
    headers, body = to_binary(event)
    response = index.post("/", headers=headers, data=body)
    assert response.status_code == 422
    assert response.get_json()["error"]["code"] == "embedder_mismatch"


def test_index_handles_a_delete_of_an_unknown_document(index: FlaskClient, tenant: str) -> None:
    event = make_event(
        DOCUMENT_DELETED,
        "/tests",
        DocumentDeleted(id="ghost", tenant=tenant, deleted_at=now_iso()),
        subject="ghost",
        tenant=tenant,
    )
    headers, body = to_binary(event)
    assert index.post("/", headers=headers, data=body).status_code == 204


def test_rows_milvus_refuses_are_a_permanent_error_not_a_retry(
    index: FlaskClient, redis_client: Redis, tenant: str
) -> None:
    # An integer beyond 64 bits in metadata (ingest refuses it; an event posted straight to
    # index may still carry one): retrying cannot help, so 422, and a batch of it is split.
    DocumentStore(redis_client).accept_many([accepted(tenant, "doc", "v1")], HASHING.key)
    event = embedded_event(tenant)
    event.data["metadata"] = {"n": 2**64}
    headers, body = to_binary(event)
    response = index.post("/", headers=headers, data=body)
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "milvus_rejected"
