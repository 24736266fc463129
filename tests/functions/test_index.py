"""Index answers events by Knative's reply contract (a real Redis, and the stack's Milvus)."""

from __future__ import annotations

import pytest
from cloudevents.conversion import to_binary
from flask.testing import FlaskClient

from dev.stack import Stack
from sluice.embedders.identity import EmbedderIdentity
from sluice.events import (
    DOCUMENT_DELETED,
    DocumentDeleted,
    make_event,
    now_iso,
)
from tests.functions.conftest import FunctionClient
from tests.functions.events import embedded_event


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
