"""Builds the ingest function's app once per process."""

from __future__ import annotations

from sluice.http import FunctionApp
from sluice.logs import configure_logging
from sluice_ingest.container import IngestContainer


def create_app(container: IngestContainer) -> FunctionApp:
    """Build the app from the container (settings errors surface here, at start)."""
    configure_logging("ingest", container.config().logging.level)
    return container.api().app(readiness=container.gateways.redis().ping)
