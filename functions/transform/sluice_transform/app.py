"""Builds the transform function's app once per process."""

from __future__ import annotations

from sluice.events import DOCUMENT_ACCEPTED
from sluice.http import FunctionApp, Route, event_handler
from sluice.logs import configure_logging
from sluice_transform.container import TransformContainer


def create_app(container: TransformContainer) -> FunctionApp:
    """Build the app from the container (settings errors surface here, at start)."""
    config = container.config()
    configure_logging("transform", config.logging.level)
    service = container.service()
    handler = event_handler(
        "transform", config.routing.max_event_body_bytes, {DOCUMENT_ACCEPTED: service.handle}
    )
    redis = container.gateways.redis()

    def ready() -> None:
        redis.ping()
        service.embedder().warm()

    return FunctionApp(
        "transform",
        [Route("/", ("POST",), handler)],
        readiness=ready,
        internal_token=config.internal.value(),
    )
