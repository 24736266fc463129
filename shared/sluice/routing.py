"""The routing table in action: publishes an event to every subscriber of its type.

Routes come from configuration (`routing:` in `conf/routing.yaml`). Each route names a
subscriber and a transport: `rq` enqueues a delivery job on the subscriber's queue (RQ workers
POST it to the subscriber and route its reply on), `broker` posts the event once to the Knative
broker, whose Triggers (rendered from the same table) deliver it.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol

from cloudevents.http import CloudEvent

from sluice.errors import ConfigError
from sluice.settings import RouteSettings, RoutingSettings


class Transport(Protocol):
    """Moves events to subscribers."""

    def publish(self, routes: Sequence[RouteSettings], events: Sequence[CloudEvent]) -> None:
        """Deliver the events along each of the routes (all share the events' type)."""
        ...

    def depth(self, route: RouteSettings) -> int | None:
        """Events waiting on a route, if the transport can tell."""
        ...


class Router:
    """Looks events up in the routing table and hands them to the routes' transports."""

    def __init__(self, routing: RoutingSettings, transports: dict[str, Transport]) -> None:
        self.routing = routing
        self.transports = transports
        for route in routing.routes:
            if route.to not in routing.subscribers:
                raise ConfigError(
                    f"routing.routes: {route.event} goes to unknown subscriber {route.to!r}"
                )
            if route.transport not in transports:
                raise ConfigError(
                    f"routing.routes: {route.event} needs the {route.transport} "
                    "transport, which is not configured here"
                )

    def routes_for(self, event_type: str) -> list[RouteSettings]:
        """The routes of an event type (none: the event ends here)."""
        return [r for r in self.routing.routes if r.event == event_type]

    def publish(self, events: Sequence[CloudEvent]) -> None:
        """Publish events (of any types) along their routes; returns once all are handed over."""
        by_type: dict[str, list[CloudEvent]] = {}
        for event in events:
            by_type.setdefault(event["type"], []).append(event)
        for event_type, batch in by_type.items():
            routes = self.routes_for(event_type)
            for name, transport in self.transports.items():
                mine = [r for r in routes if r.transport == name]
                if mine:
                    transport.publish(mine, batch)

    def depth(self, event_type: str) -> int:
        """The longest backlog among the routes of an event type (0 if none can tell)."""
        depths = [self.transports[r.transport].depth(r) for r in self.routes_for(event_type)]
        return max((d for d in depths if d is not None), default=0)


def create_router(routing: RoutingSettings, redis: object, worker_settings: object) -> Router:
    """A router with the transports the routing table uses (imported only when used)."""
    transports: dict[str, Transport] = {}
    kinds = {r.transport for r in routing.routes}
    if "rq" in kinds:
        from sluice.transport.rq import RqTransport

        transports["rq"] = RqTransport(routing, redis, worker_settings)  # type: ignore[arg-type]
    if "broker" in kinds:
        from sluice.transport.broker import BrokerTransport

        sink = routing.broker_sink()
        if not sink:
            raise ConfigError(
                "routing: a route uses the broker transport but neither "
                "routing.broker_url nor K_SINK is set"
            )
        transports["broker"] = BrokerTransport(sink)
    return Router(routing, transports)
