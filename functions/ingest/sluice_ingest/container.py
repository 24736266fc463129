"""Ingest's wiring: gateways, the router, the service and the HTTP API."""

from __future__ import annotations

from dependency_injector import containers, providers

from sluice.containers import Core, Gateways
from sluice.routing import create_router
from sluice_ingest.api import IngestApi
from sluice_ingest.auth import Authenticator
from sluice_ingest.service import IngestService


class IngestContainer(containers.DeclarativeContainer):
    """Everything the ingest function builds once per process."""

    core = providers.Container(Core)
    settings = core.settings
    gateways = providers.Container(Gateways, settings=settings)

    router = providers.Singleton(
        create_router, settings.provided.routing, gateways.redis, settings.provided.worker
    )
    authenticator = providers.Singleton(
        Authenticator, providers.Callable(lambda s: s.auth.keys(), settings)
    )
    service = providers.Singleton(
        IngestService,
        settings.provided.ingest,
        gateways.documents,
        gateways.blobs,
        router,
        tenant_in_url=providers.Callable(lambda a: not a.enabled, authenticator),
        identity=settings.provided.embedder.identity.call(),
    )
    api = providers.Singleton(
        IngestApi, service, authenticator, settings.provided.ingest.max_body_bytes
    )
