"""Builds the dead-letter sink's app once per process."""

from __future__ import annotations

from sluice.http import FunctionApp, Route, event_handler
from sluice.logs import configure_logging
from sluice_dead_letter.container import DeadLetterContainer


def create_app(container: DeadLetterContainer) -> FunctionApp:
    """The sink's app: CloudEvents in on `/`, 204 out. Wires the container into the jobs'
    failure callback, which runs in this process."""
    config = container.config()
    configure_logging("dead-letter", config.logging.level)
    container.wire()
    sink = container.sink()
    handlers = dict.fromkeys(sink.event_types(), sink.record)
    handler = event_handler("dead-letter", config.routing.max_event_body_bytes, handlers)
    return FunctionApp(
        "dead-letter",
        [Route("/", ("POST",), handler)],
        readiness=container.gateways.redis().ping,
        internal_token=config.internal.value(),
    )
