"""Transform's wiring: gateways, the embedder and the service."""

from __future__ import annotations

from dependency_injector import containers, providers

from sluice.containers import Core, Gateways
from sluice_transform.service import TransformService


class TransformContainer(containers.DeclarativeContainer):
    """Everything the transform function builds once per process."""

    core = providers.Container(Core)
    settings = core.settings
    gateways = providers.Container(Gateways, settings=settings)

    service = providers.Singleton(
        TransformService,
        settings.provided.chunker,
        gateways.embedder,
        settings.provided.embedder.batch_size,
        gateways.documents,
        gateways.blobs,
    )
