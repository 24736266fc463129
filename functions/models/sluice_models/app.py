"""Builds the models function's app once per process, and starts its copier."""

from __future__ import annotations

from sluice.http import FunctionApp
from sluice.logs import configure_logging
from sluice_models.container import ModelsContainer


def create_app(container: ModelsContainer) -> FunctionApp:
    """Build the app from the container (settings errors surface here, at start)."""
    config = container.config()
    configure_logging("models", config.logging.level)
    redis = container.gateways.redis()
    app = container.api().app(readiness=redis.ping)
    container.copier().start()
    return app
