"""Builds the ingest function's app once per process."""

from __future__ import annotations

from sluice.http import FunctionApp
from sluice.logs import configure_logging
from sluice_ingest.container import IngestContainer


def create_app(container: IngestContainer | None = None) -> FunctionApp:
    """Wire the container (settings errors surface here, at start) and return the app."""
    container = container or IngestContainer()
    settings = container.settings()
    configure_logging("ingest", settings.logging.level)
    redis = container.gateways.redis()
    return container.api().app(readiness=redis.ping)
