"""Builds the transform function's app once per process."""

from __future__ import annotations

from sluice.events import DOCUMENT_ACCEPTED
from sluice.http import FunctionApp, Route, event_handler
from sluice.logs import configure_logging
from sluice_transform.container import TransformContainer
from sluice_transform.embeddings import EmbeddingsApi


def create_app(container: TransformContainer | None = None) -> FunctionApp:
    """Wire the container (settings errors surface here, at start) and return the app."""
    container = container or TransformContainer()
    settings = container.settings()
    configure_logging("transform", settings.logging.level)
    service = container.service()
    handler = event_handler(
        "transform", settings.routing.max_event_body_bytes, {DOCUMENT_ACCEPTED: service.handle}
    )
    redis = container.gateways.redis()

    def ready() -> None:
        redis.ping()
        service.embedder.warm()

    return FunctionApp("transform", [Route("/", ("POST",), handler)], readiness=ready)


def create_embed_app(container: TransformContainer | None = None) -> FunctionApp:
    """The embedding endpoint's app: the same container and embedder as transform."""
    container = container or TransformContainer()
    settings = container.settings()
    configure_logging("embed", settings.logging.level)
    service = container.service()
    api = EmbeddingsApi(service)
    return FunctionApp(
        "embed", [Route("/v1/embeddings", ("POST",), api.handle)], readiness=service.embedder.warm
    )
