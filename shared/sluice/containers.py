"""Wiring: the clients every process builds once, and closes when it stops.

Each process has its own container (`IngestContainer`, `TransformContainer`, ...,
`WorkerContainer`) holding its settings, a `Gateways` container and its services. `Gateways`
holds the clients to the outside world: Redis, HTTP, Milvus, as Resources that
`container.shutdown_resources()` closes, and the stores and publishers built on them. Every
provider is lazy, so a process builds only the clients its services use (the embedding endpoint
never connects to Redis), and heavy imports (rq, pymilvus) happen only where they are used.
Tests override a gateway (`container.gateways.redis.override(...)`), never anything deeper.

Dependency-injector is used because the same clients are shared by several services of one
process and must be closed in order at shutdown, and because RQ jobs are module-level functions
that get their collaborators through its wiring (`sluice.rq.jobs`).
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import TYPE_CHECKING

import httpx
from dependency_injector import containers, providers
from redis import Redis

from sluice.routing import Publisher, Router, create_router
from sluice.settings import (
    MilvusSettings,
    ProcessSettings,
    QueuesConfig,
    RoutingSettings,
    load_settings,
)
from sluice.stores.blobs import BlobStore
from sluice.stores.documents import DocumentStore
from sluice.stores.models import ModelStates

if TYPE_CHECKING:
    from sluice.rq.dlq import DeadLetters
    from sluice.stores.milvus import ChunkStores


def redis_client(url: str) -> Iterator[Redis]:
    """A Redis client (connections are made on use), closed at shutdown."""
    client = Redis.from_url(url, health_check_interval=30)
    yield client
    client.close()


def http_client() -> Iterator[httpx.Client]:
    """An HTTP client with a connection pool, closed at shutdown."""
    client = httpx.Client(timeout=30.0)
    yield client
    client.close()


def chunk_stores(settings: MilvusSettings) -> Iterator[ChunkStores]:
    """The Milvus chunk collections (one per model kept), closed at shutdown."""
    from sluice.stores.milvus import ChunkStores

    stores = ChunkStores(settings)
    yield stores
    stores.close()


def rq_publisher(routing: RoutingSettings, redis: Redis) -> Publisher:
    """The RQ transport (imported only by processes that enqueue)."""
    from sluice.rq.publisher import RqPublisher

    return RqPublisher(routing, redis)


class Gateways(containers.DeclarativeContainer):
    """Clients of Redis, Milvus and HTTP, and the stores and publishers built on them.

    `config` is the process's settings; a provider reads only the sections it needs.
    """

    config = providers.Dependency(instance_of=ProcessSettings)

    redis = providers.Resource(redis_client, config.provided.redis.url)
    http = providers.Resource(http_client)
    chunks = providers.Resource(chunk_stores, config.provided.milvus)

    documents = providers.Singleton(DocumentStore, redis, config.provided.redis.key_prefix)
    models = providers.Singleton(ModelStates, redis, config.provided.redis.key_prefix)
    blobs = providers.Singleton(
        BlobStore,
        redis,
        config.provided.redis.key_prefix,
        threshold_bytes=config.provided.claim_check.threshold_bytes,
        ttl_seconds=config.provided.claim_check.ttl_seconds,
    )
    queues = providers.Singleton(rq_publisher, config.provided.routing, redis)
    router = providers.Singleton(create_router, config.provided.routing, http, queues)


def dead_letters(routing: RoutingSettings, redis: Redis, router: Router) -> DeadLetters:
    """The dead letter of every queue (imported only where it is used)."""
    from sluice.rq.dlq import DeadLetters

    return DeadLetters(routing, redis, router)


class QueuesContainer(containers.DeclarativeContainer):
    """The queues and their dead letter: the exporter and `sluice dlq`."""

    config = providers.Singleton(load_settings, QueuesConfig)
    gateways = providers.Container(Gateways, config=config)
    dead_letters = providers.Singleton(
        dead_letters, config.provided.routing, gateways.redis, gateways.router
    )
