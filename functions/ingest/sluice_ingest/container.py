"""Ingest's wiring: its settings, the gateways, the service and the HTTP API."""

from __future__ import annotations

from dependency_injector import containers, providers

from sluice.containers import Gateways, dead_letters
from sluice.settings import IngestConfig, load_settings
from sluice_ingest.api import IngestApi
from sluice_ingest.auth import Authenticator
from sluice_ingest.service import IngestService


class IngestContainer(containers.DeclarativeContainer):
    """Everything the ingest function builds once per process."""

    config = providers.Singleton(load_settings, IngestConfig)
    gateways = providers.Container(Gateways, config=config)

    authenticator = providers.Singleton(Authenticator, config.provided.auth.keys.call())
    service = providers.Singleton(
        IngestService,
        config.provided.ingest,
        gateways.documents,
        gateways.blobs,
        gateways.router,
        keys_required=authenticator.provided.enabled,
        identity=config.provided.embedder.identity.call(),
        models=gateways.models,
    )
    dead_letters = providers.Singleton(
        dead_letters, config.provided.routing, gateways.redis, gateways.router
    )
    api = providers.Singleton(
        IngestApi, service, authenticator, dead_letters, config.provided.ingest.max_body_bytes
    )
