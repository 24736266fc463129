"""The broker publisher: one binary-mode CloudEvent POST per event to the broker URL."""

from __future__ import annotations

import json
from collections.abc import Callable

import httpx
import pytest
from cloudevents.http import CloudEvent

from sluice.broker import BrokerPublisher
from sluice.errors import Unavailable
from sluice.events import (
    DOCUMENT_ACCEPTED,
    DOCUMENT_DELETED,
    DocumentAccepted,
    DocumentDeleted,
    make_event,
)
from sluice.settings import RouteSettings

PAYLOAD = DocumentAccepted(
    id="doc-1",
    tenant="acme",
    version="v1",
    title="Café Müller",
    text="Ünïcödé text, 東京, and emoji 🙂.",
    metadata={"lang": "de", "tags": ["a", "b"], "n": 3},
    accepted_at="2024-01-02T03:04:05+00:00",
)

ROUTE_TRANSFORM = RouteSettings(event=DOCUMENT_ACCEPTED, to="transform", transport="broker")
ROUTE_AUDIT = RouteSettings(event=DOCUMENT_ACCEPTED, to="audit", transport="broker")


def _accepted(doc_id: str = "doc-1") -> CloudEvent:
    payload = PAYLOAD.model_copy(update={"id": doc_id})
    return make_event(
        DOCUMENT_ACCEPTED, "/sluice/ingest", payload, subject=doc_id, tenant="acme", version="v1"
    )


def test_posts_a_binary_mode_cloudevent(receiver):
    event = _accepted()
    BrokerPublisher(receiver.url("/default/sluice"), httpx.Client()).publish(
        [ROUTE_TRANSFORM], [event]
    )

    (request,) = receiver.requests
    assert request.method == "POST"
    assert request.path == "/default/sluice"
    headers = request.headers
    assert headers["ce-specversion"] == "1.0"
    assert headers["ce-id"] == event["id"]
    assert headers["ce-type"] == DOCUMENT_ACCEPTED
    assert headers["ce-source"] == "/sluice/ingest"
    assert headers["ce-subject"] == "doc-1"
    assert headers["ce-tenant"] == "acme"
    assert headers["ce-docversion"] == "v1"
    assert headers["content-type"].startswith("application/json")
    # Binary mode: the body is the payload itself, not a structured envelope.
    assert json.loads(request.body.decode("utf-8")) == PAYLOAD.model_dump(mode="json")


def test_an_event_without_a_version_has_no_docversion_header(receiver):
    payload = DocumentDeleted(id="doc-9", tenant="acme", deleted_at="2024-01-02T00:00:00Z")
    event = make_event(DOCUMENT_DELETED, "/sluice/ingest", payload, subject="doc-9", tenant="acme")
    route = RouteSettings(event=DOCUMENT_DELETED, to="index", transport="broker")
    BrokerPublisher(receiver.url(), httpx.Client()).publish([route], [event])
    (request,) = receiver.requests
    assert "ce-docversion" not in request.headers
    assert request.headers["ce-type"] == DOCUMENT_DELETED
    assert json.loads(request.body) == payload.model_dump(mode="json")


def test_one_post_per_event_whatever_the_number_of_routes(receiver):
    events = [_accepted(f"doc-{i}") for i in range(3)]
    BrokerPublisher(receiver.url(), httpx.Client()).publish([ROUTE_TRANSFORM, ROUTE_AUDIT], events)
    assert [r.headers["ce-id"] for r in receiver.requests] == [e["id"] for e in events]
    assert [r.headers["ce-subject"] for r in receiver.requests] == ["doc-0", "doc-1", "doc-2"]


@pytest.mark.parametrize("status", [200, 201, 202, 204])
def test_a_2xx_answer_is_success(receiver, status: int):
    receiver.status = status
    BrokerPublisher(receiver.url(), httpx.Client()).publish([ROUTE_TRANSFORM], [_accepted()])
    assert len(receiver.requests) == 1


@pytest.mark.parametrize("status", [400, 404, 500, 503])
def test_an_error_answer_raises_unavailable(receiver, status: int):
    receiver.status = status
    transport = BrokerPublisher(receiver.url(), httpx.Client())
    with pytest.raises(Unavailable) as info:
        transport.publish([ROUTE_TRANSFORM], [_accepted("doc-a"), _accepted("doc-b")])
    assert info.value.code == "broker_rejected"
    assert info.value.status == 503
    assert str(status) in info.value.message
    assert len(receiver.requests) == 1  # it stops at the first rejected event


def test_an_unreachable_broker_raises_unavailable(free_port: Callable[[], int]):
    transport = BrokerPublisher(f"http://127.0.0.1:{free_port()}/", httpx.Client())
    with pytest.raises(Unavailable) as info:
        transport.publish([ROUTE_TRANSFORM], [_accepted()])
    assert info.value.code == "broker_unavailable"
    assert info.value.status == 503


def test_no_events_means_no_request(receiver):
    BrokerPublisher(receiver.url(), httpx.Client()).publish([ROUTE_TRANSFORM], [])
    assert receiver.requests == []


def test_the_broker_backlog_is_unknown():
    assert BrokerPublisher("http://127.0.0.1:9/", httpx.Client()).depth(ROUTE_TRANSFORM) is None
