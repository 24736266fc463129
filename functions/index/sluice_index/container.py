"""Index's wiring: gateways, the Milvus chunk store and the service."""

from __future__ import annotations

from dependency_injector import containers, providers

from sluice.containers import Core, Gateways
from sluice.settings import Settings
from sluice.stores.milvus import ChunkStore
from sluice_index.service import IndexService


def _open_chunk_store(settings: Settings) -> ChunkStore:
    store = ChunkStore(settings.milvus, settings.embedder.identity())
    store.ensure_collection()
    return store


class IndexContainer(containers.DeclarativeContainer):
    """Everything the index function builds once per process."""

    core = providers.Container(Core)
    settings = core.settings
    gateways = providers.Container(Gateways, settings=settings)

    chunks = providers.Singleton(_open_chunk_store, settings)
    service = providers.Singleton(
        IndexService,
        chunks,
        gateways.documents,
        gateways.blobs,
        settings.provided.worker.index_lock_timeout_seconds,
    )
