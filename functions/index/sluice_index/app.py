"""Builds the index function's app once per process."""

from __future__ import annotations

from sluice.events import DOCUMENT_DELETED, DOCUMENT_EMBEDDED
from sluice.http import FunctionApp, Route, event_handler
from sluice.logs import configure_logging
from sluice_index.container import IndexContainer


def create_app(container: IndexContainer) -> FunctionApp:
    """Build the app from the container (settings and Milvus errors surface here, at start)."""
    config = container.config()
    configure_logging("index", config.logging.level)
    service = container.service()
    handler = event_handler(
        "index",
        config.routing.max_event_body_bytes,
        {
            DOCUMENT_EMBEDDED: service.handle_embedded,
            DOCUMENT_DELETED: service.handle_deleted,
        },
    )
    redis = container.gateways.redis()

    def ready() -> None:
        redis.ping()
        service.ping()

    return FunctionApp(
        "index",
        [Route("/", ("POST",), handler)],
        readiness=ready,
        internal_token=config.internal.value(),
    )
