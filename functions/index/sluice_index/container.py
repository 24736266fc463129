"""Index's wiring: its settings, the gateways (the Milvus chunk store among them), the service."""

from __future__ import annotations

from dependency_injector import containers, providers

from sluice.containers import Gateways
from sluice.settings import IndexConfig, load_settings
from sluice_index.service import IndexService


class IndexContainer(containers.DeclarativeContainer):
    """Everything the index function builds once per process."""

    config = providers.Singleton(load_settings, IndexConfig)
    gateways = providers.Container(Gateways, config=config)

    service = providers.Singleton(
        IndexService,
        gateways.chunks,
        gateways.documents,
        gateways.blobs,
        gateways.models,
        config.provided.embedder.identity.call(),
        config.provided.index,
    )
