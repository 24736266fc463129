"""Builds the embedding endpoint's app once per process."""

from __future__ import annotations

from sluice.http import FunctionApp, Route
from sluice.logs import configure_logging
from sluice_embed.container import EmbedContainer


def create_app(container: EmbedContainer) -> FunctionApp:
    """Build the app from the container (settings and model errors surface here, at start)."""
    config = container.config()
    configure_logging("embed", config.logging.level)
    api = container.api()
    return FunctionApp(
        "embed",
        [Route("/v1/embeddings", ("POST",), api.handle)],
        readiness=lambda: api.embedders.get(config.embedder.identity()).warm(),
        internal_token=config.internal.value(),
    )
