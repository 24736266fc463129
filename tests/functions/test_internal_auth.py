"""Issue 11, defect 8: the functions only Sluice's own services call (transform, index, embed,
the dead-letter sink) refuse a request without the internal token once one is configured, and
answer the probes and Prometheus without it. Before the fix, a forged `document.embedded`
posted to index was written into another tenant's index."""

from __future__ import annotations

import json

import pytest
from cloudevents.conversion import to_structured
from flask.testing import FlaskClient

from dev.stack import Stack
from sluice import codec
from tests.functions.conftest import FunctionClient
from tests.functions.events import accepted_event, embedded_event

TOKEN = "internal-test-token-0123456789"
REDIS_ONLY = ("transform", "embed", "dead_letter")


def _request(name: str, tenant: str) -> tuple[str, dict[str, str], bytes]:
    """A request the function would serve with the right token (path, headers, body)."""
    if name == "embed":
        body = json.dumps({"input": ["hello"], "model": "hashing"}).encode()
        return "/v1/embeddings", {"content-type": codec.JSON}, body
    event = embedded_event(tenant) if name == "index" else accepted_event(tenant)
    headers, body = to_structured(event)
    return "/", dict(headers), body


def _check(client: FlaskClient, name: str, tenant: str) -> None:
    path, headers, body = _request(name, tenant)
    for presented, code in [
        (None, "internal_token_required"),
        ("Bearer wrong-token", "internal_token_invalid"),
        (f"Basic {TOKEN}", "internal_token_required"),
    ]:
        sent = {**headers, **({"authorization": presented} if presented else {})}
        response = client.post(path, headers=sent, data=body)
        assert response.status_code == 401, (name, presented, response.get_data(as_text=True))
        assert response.get_json()["error"]["code"] == code
    for probe in ("/healthz", "/metrics"):
        assert client.get(probe).status_code == 200, (name, probe)
    response = client.post(path, headers={**headers, "authorization": f"Bearer {TOKEN}"}, data=body)
    assert response.status_code not in (401, 403), (name, response.get_data(as_text=True))


@pytest.mark.parametrize("name", REDIS_ONLY)
def test_internal_functions_refuse_callers_without_the_token(
    function_client: FunctionClient, name: str, tenant: str
) -> None:
    _check(function_client(name, internal={"token": TOKEN}), name, tenant)


def test_index_refuses_a_forged_embedded_event(
    function_client: FunctionClient, stack: Stack, tenant: str
) -> None:
    client = function_client(
        "index", milvus={"uri": stack.url("milvus")}, internal={"token": TOKEN}
    )
    _check(client, "index", tenant)


@pytest.mark.parametrize("name", REDIS_ONLY)
def test_without_a_token_configured_nothing_is_asked(
    function_client: FunctionClient, name: str, tenant: str
) -> None:
    path, headers, body = _request(name, tenant)
    response = function_client(name).post(path, headers=headers, data=body)
    assert response.status_code not in (401, 403), response.get_data(as_text=True)
