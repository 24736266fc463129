"""The embedding endpoint's wiring: its settings, the embedder and the API (no Redis)."""

from __future__ import annotations

from dependency_injector import containers, providers

from sluice.embedders import Embedders
from sluice.settings import EmbedConfig, load_settings
from sluice_embed.api import EmbeddingsApi


class EmbedContainer(containers.DeclarativeContainer):
    """Everything the embedding endpoint builds once per process."""

    config = providers.Singleton(load_settings, EmbedConfig)
    embedders = providers.Singleton(Embedders, config.provided.embedder)
    api = providers.Singleton(EmbeddingsApi, embedders)
