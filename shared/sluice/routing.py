"""The routing table in action: publishes an event to every subscriber of its type.

Routes come from configuration (`routing:` in `conf/routing.yaml`). Each route names a
subscriber and, through `RoutingSettings.transport_of`, the transport it takes: `rq` enqueues a
delivery job on the subscriber's queue (RQ workers POST it to the subscriber and route its reply
on; `sluice.rq`), `broker` posts the event once to the Knative broker, whose Triggers (rendered
from the same table) deliver it (`sluice.broker`).
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Protocol

import httpx
from cloudevents.http import CloudEvent

from sluice.broker import BrokerPublisher
from sluice.errors import ConfigError
from sluice.settings import RouteSettings, RoutingSettings, Transport


class Publisher(Protocol):
    """Moves events to subscribers over one transport."""

    def publish(self, routes: Sequence[RouteSettings], events: Sequence[CloudEvent]) -> None:
        """Deliver the events along each of the routes (all share the events' type)."""
        ...

    def depth(self, route: RouteSettings) -> int | None:
        """Events waiting on a route, if the transport can tell."""
        ...


class Router:
    """Looks events up in the routing table and hands them to the routes' transports."""

    def __init__(self, routing: RoutingSettings, publishers: Mapping[Transport, Publisher]) -> None:
        self.routing = routing
        self.publishers = dict(publishers)
        for route in routing.routes:
            if routing.transport_of(route) not in self.publishers:
                raise ConfigError(
                    f"routing.routes: {route.event} needs the {routing.transport_of(route)} "
                    "transport, which is not configured here"
                )

    def publish(self, events: Sequence[CloudEvent]) -> None:
        """Publish events (of any types) along their routes; returns once all are handed over."""
        by_type: dict[str, list[CloudEvent]] = {}
        for event in events:
            by_type.setdefault(event["type"], []).append(event)
        for event_type, batch in by_type.items():
            routes = self.routing.routes_for(event_type)
            for name, publisher in self.publishers.items():
                mine = [r for r in routes if self.routing.transport_of(r) == name]
                if mine:
                    publisher.publish(mine, batch)

    def publish_route(self, route: RouteSettings, events: Sequence[CloudEvent]) -> None:
        """Publish events along one route only (a replay of what failed on it)."""
        self.publishers[self.routing.transport_of(route)].publish([route], events)

    def depth(self, event_type: str) -> int:
        """The longest backlog among the routes of an event type (0 if none can tell)."""
        depths = [
            self.publishers[self.routing.transport_of(r)].depth(r)
            for r in self.routing.routes_for(event_type)
        ]
        return max((d for d in depths if d is not None), default=0)


def create_router(
    routing: RoutingSettings, http: httpx.Client, rq: Publisher | None = None
) -> Router:
    """A router with the transports the routing table uses: `rq` (an `RqPublisher`, given by
    the caller, which has the Redis client) and the broker (`routing.broker_sink()`)."""
    needed = {routing.transport_of(route) for route in routing.routes}
    publishers: dict[Transport, Publisher] = {}
    if "rq" in needed and rq is not None:
        publishers["rq"] = rq
    if "broker" in needed:
        sink = routing.broker_sink()
        if not sink:
            raise ConfigError(
                "routing: a route uses the broker transport but neither "
                "routing.broker_url nor K_SINK is set"
            )
        publishers["broker"] = BrokerPublisher(sink, http)
    return Router(routing, publishers)
