"""Issue 11, defects 8-9 on the running stack: Redis refuses clients without the password the
stack generated, and the internal functions refuse callers without the internal token, while
the pipeline (workers → transform → index) and searches (searchapi → embed) present it."""

from __future__ import annotations

import httpx
import pytest
from cloudevents.conversion import to_structured
from redis import Redis
from redis.exceptions import AuthenticationError, ResponseError

from dev.stack import Stack
from tests.conftest import wait_status
from tests.functions.events import embedded_event

pytestmark = pytest.mark.stack


def test_redis_refuses_a_client_without_the_password(stack: Stack) -> None:
    anonymous = Redis(port=stack.ports["redis"], socket_timeout=5)
    with anonymous, pytest.raises((AuthenticationError, ResponseError), match=r"(?i)auth"):
        anonymous.get("anything")
    guessing = Redis(port=stack.ports["redis"], password="guessed", socket_timeout=5)
    with guessing, pytest.raises((AuthenticationError, ResponseError)):
        guessing.ping()
    assert (stack.directory / "secrets" / "redis_password").stat().st_mode & 0o077 == 0


@pytest.mark.parametrize("name", ["transform", "index"])  # embed: tests/integration/test_quality.py
def test_internal_functions_refuse_a_forged_request(stack: Stack, name: str, tenant: str) -> None:
    headers, body = to_structured(embedded_event(tenant))
    response = httpx.post(stack.url(name) + "/", headers=dict(headers), content=body)
    assert response.status_code == 401, response.text
    assert response.json()["error"]["code"] == "internal_token_required"
    assert httpx.get(stack.url(name) + "/healthz").status_code == 200
    assert httpx.get(stack.url(name) + "/readyz").status_code == 200


def test_the_pipeline_and_search_present_the_token(
    stack: Stack, ingest: httpx.Client, searchapi: httpx.Client, tenant: str
) -> None:
    document = {"id": "trusted", "tenant": tenant, "text": "a water wheel turns the mill"}
    assert ingest.post("/documents", json=document).status_code == 202
    wait_status(ingest, "trusted", tenant, "indexed")
    hits = searchapi.get("/v1/search", params={"q": "water wheel", "tenant": tenant}).json()
    assert [hit["document_id"] for hit in hits["hits"]] == ["trusted"], hits
