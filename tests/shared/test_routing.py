"""The router: looks events up in the routing table and hands them to the right transport."""

from __future__ import annotations

from collections.abc import Callable, Sequence

import httpx
import pytest
from cloudevents.http import CloudEvent
from pydantic import ValidationError

from sluice.errors import ConfigError
from sluice.events import (
    DOCUMENT_ACCEPTED,
    DOCUMENT_EMBEDDED,
    DOCUMENT_INDEXED,
    DocumentIndexed,
    make_event,
)
from sluice.routing import Router, create_router
from sluice.settings import RouteSettings, RoutingSettings

SUBSCRIBERS = {
    "transform": {"url": "http://127.0.0.1:8082/", "queue": "sluice-transform"},
    "index": {"url": "http://127.0.0.1:8083/", "queue": "sluice-index"},
}


def _routing(*routes: dict[str, str], broker_url: str = "") -> RoutingSettings:
    return RoutingSettings.model_validate(
        {"broker_url": broker_url, "subscribers": SUBSCRIBERS, "routes": list(routes)}
    )


def _event(event_type: str, doc_id: str = "doc-1") -> CloudEvent:
    payload = DocumentIndexed(id=doc_id, tenant="acme", version="v1", chunks=2, indexed_at="now")
    return make_event(event_type, "/test", payload, subject=doc_id, tenant="acme", version="v1")


class RecordingTransport:
    """A publisher that remembers what it was given."""

    def __init__(self, depth: int | None = None) -> None:
        self.calls: list[tuple[list[str], list[str]]] = []
        self._depth = depth

    def publish(self, routes: Sequence[RouteSettings], events: Sequence[CloudEvent]) -> None:
        self.calls.append(([r.to for r in routes], [e["subject"] for e in events]))

    def depth(self, route: RouteSettings) -> int | None:
        return self._depth


@pytest.fixture(autouse=True)
def _no_k_sink(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.delenv("K_SINK", raising=False)


BROKER_ACCEPTED = {"event": DOCUMENT_ACCEPTED, "to": "transform", "transport": "broker"}


def test_broker_route_posts_to_k_sink_when_no_broker_url(receiver, monkeypatch):
    monkeypatch.setenv("K_SINK", receiver.url("/k-sink"))
    router = create_router(_routing(BROKER_ACCEPTED), httpx.Client())
    event = _event(DOCUMENT_ACCEPTED)
    router.publish([event])
    (request,) = receiver.requests
    assert request.path == "/k-sink"
    assert request.headers["ce-id"] == event["id"]


def test_broker_url_takes_precedence_over_k_sink(
    receiver, monkeypatch, free_port: Callable[[], int]
):
    monkeypatch.setenv("K_SINK", f"http://127.0.0.1:{free_port()}/nobody-listens")
    routing = _routing(BROKER_ACCEPTED, broker_url=receiver.url("/configured"))
    create_router(routing, httpx.Client()).publish([_event(DOCUMENT_ACCEPTED)])
    assert [r.path for r in receiver.requests] == ["/configured"]


def test_a_broker_route_without_broker_url_or_k_sink_is_a_config_error():
    with pytest.raises(ConfigError, match="K_SINK"):
        create_router(_routing(BROKER_ACCEPTED), httpx.Client())


def test_a_route_to_an_unknown_subscriber_is_invalid():
    route = {"event": DOCUMENT_ACCEPTED, "to": "transfrom", "transport": "broker"}
    with pytest.raises(ValidationError, match="transfrom"):
        _routing(route, broker_url="http://127.0.0.1:9/")


def test_a_route_over_a_missing_transport_is_a_config_error():
    with pytest.raises(ConfigError, match="broker"):
        Router(_routing(BROKER_ACCEPTED), {"rq": RecordingTransport()})


def test_events_are_grouped_by_type_and_sent_along_their_routes():
    routing = _routing(
        {"event": DOCUMENT_ACCEPTED, "to": "transform", "transport": "rq"},
        {"event": DOCUMENT_EMBEDDED, "to": "index", "transport": "rq"},
        {"event": DOCUMENT_EMBEDDED, "to": "transform", "transport": "broker"},
    )
    rq, broker = RecordingTransport(), RecordingTransport()
    router = Router(routing, {"rq": rq, "broker": broker})
    router.publish(
        [
            _event(DOCUMENT_ACCEPTED, "a1"),
            _event(DOCUMENT_EMBEDDED, "e1"),
            _event(DOCUMENT_INDEXED, "i1"),  # no route: the event ends here
            _event(DOCUMENT_ACCEPTED, "a2"),
        ]
    )
    assert rq.calls == [(["transform"], ["a1", "a2"]), (["index"], ["e1"])]
    assert broker.calls == [(["transform"], ["e1"])]


def test_all_routes_of_a_type_on_one_transport_are_handed_over_together():
    routing = _routing(
        {"event": DOCUMENT_ACCEPTED, "to": "transform", "transport": "broker"},
        {"event": DOCUMENT_ACCEPTED, "to": "index", "transport": "broker"},
    )
    broker = RecordingTransport()
    Router(routing, {"broker": broker}).publish([_event(DOCUMENT_ACCEPTED)])
    assert broker.calls == [(["transform", "index"], ["doc-1"])]


def test_two_broker_routes_post_each_event_once(receiver):
    routing = _routing(
        {"event": DOCUMENT_ACCEPTED, "to": "transform", "transport": "broker"},
        {"event": DOCUMENT_ACCEPTED, "to": "index", "transport": "broker"},
        broker_url=receiver.url(),
    )
    router = create_router(routing, httpx.Client())
    router.publish([_event(DOCUMENT_ACCEPTED, "d1"), _event(DOCUMENT_ACCEPTED, "d2")])
    assert [r.headers["ce-subject"] for r in receiver.requests] == ["d1", "d2"]


def test_routes_for_and_depth():
    routing = _routing(
        {"event": DOCUMENT_ACCEPTED, "to": "transform", "transport": "rq"},
        {"event": DOCUMENT_ACCEPTED, "to": "index", "transport": "broker"},
    )
    router = Router(routing, {"rq": RecordingTransport(depth=7), "broker": RecordingTransport()})
    assert [r.to for r in routing.routes_for(DOCUMENT_ACCEPTED)] == ["transform", "index"]
    assert routing.routes_for(DOCUMENT_INDEXED) == []
    assert router.depth(DOCUMENT_ACCEPTED) == 7  # the broker cannot tell; the queue can
    assert router.depth(DOCUMENT_INDEXED) == 0


def test_the_transport_override_applies_to_every_route_without_changing_the_table() -> None:
    table = {
        "subscribers": {
            "transform": {"url": "http://t/", "queue": "q-t"},
            "index": {"url": "http://i/", "queue": "q-i"},
        },
        "routes": [
            {"event": DOCUMENT_ACCEPTED, "to": "transform", "transport": "rq"},
            {"event": DOCUMENT_EMBEDDED, "to": "index", "transport": "broker"},
        ],
    }
    per_route = RoutingSettings.model_validate(table)
    assert [per_route.transport_of(r) for r in per_route.routes] == ["rq", "broker"]
    everything_rq = RoutingSettings.model_validate({**table, "transport": "rq"})
    assert [everything_rq.transport_of(r) for r in everything_rq.routes] == ["rq", "rq"]
    assert [r.transport for r in everything_rq.routes] == ["rq", "broker"]  # as written
    with pytest.raises(ValidationError, match="transport"):
        RoutingSettings.model_validate({**table, "transport": "kafka"})
