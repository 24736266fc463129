"""Transform's wiring: its settings, the gateways, the embedder and the service."""

from __future__ import annotations

from dependency_injector import containers, providers

from sluice.containers import Gateways
from sluice.embedders import Embedders
from sluice.settings import TransformConfig, load_settings
from sluice_transform.service import TransformService


class TransformContainer(containers.DeclarativeContainer):
    """Everything the transform function builds once per process."""

    config = providers.Singleton(load_settings, TransformConfig)
    gateways = providers.Container(Gateways, config=config)

    embedders = providers.Singleton(Embedders, config.provided.embedder)
    service = providers.Singleton(
        TransformService,
        config.provided.chunker,
        config.provided.extract,
        embedders,
        gateways.models,
        gateways.documents,
        gateways.blobs,
    )
