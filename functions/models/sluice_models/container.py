"""The models function's wiring: its settings, the gateways, the embedders, the changes."""

from __future__ import annotations

from dependency_injector import containers, providers

from sluice.containers import Gateways
from sluice.embedders import Embedders
from sluice.settings import ModelsConfig, load_settings
from sluice_models.api import ModelsApi
from sluice_models.changes import ModelChanges
from sluice_models.copier import Copier


def copy_embedder_settings(config: ModelsConfig) -> object:
    """The embedder settings of the copy: models.threads onnxruntime threads."""
    return config.embedder.model_copy(update={"threads": config.models.threads})


class ModelsContainer(containers.DeclarativeContainer):
    """Everything the models function builds once per process."""

    config = providers.Singleton(load_settings, ModelsConfig)
    gateways = providers.Container(Gateways, config=config)

    embedders = providers.Singleton(Embedders, providers.Callable(copy_embedder_settings, config))
    changes = providers.Singleton(
        ModelChanges,
        gateways.models,
        gateways.chunks,
        gateways.documents,
        embedders,
        config.provided.models,
        config.provided.index,
    )
    copier = providers.Singleton(
        Copier,
        changes,
        config.provided.models.poll_seconds,
        config.provided.models.nice,
    )
    api = providers.Singleton(ModelsApi, changes, config.provided.models.key.call())
