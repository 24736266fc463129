"""Dependency-injector containers: what every function builds once per process.

`Core` holds settings; `Gateways` the clients to the outside (Redis, HTTP) and the stores built
on them. Each function's own container adds its services on top and is created at import of
its `main.py`. Tests override a gateway provider, never anything deeper.
"""

from __future__ import annotations

import httpx
from dependency_injector import containers, providers
from redis import Redis

from sluice.embedders import create_embedder
from sluice.settings import Settings, cached_settings
from sluice.stores.blobs import BlobStore
from sluice.stores.documents import DocumentStore


class Core(containers.DeclarativeContainer):
    """Settings, loaded once (a bad value fails here, at start)."""

    settings = providers.Singleton(cached_settings)


class Gateways(containers.DeclarativeContainer):
    """Clients and stores shared by the functions."""

    settings = providers.Dependency(instance_of=Settings)

    redis = providers.Singleton(
        Redis.from_url, settings.provided.redis.url, health_check_interval=30
    )
    documents = providers.Singleton(DocumentStore, redis, settings.provided.redis.key_prefix)
    blobs = providers.Singleton(
        BlobStore,
        redis,
        settings.provided.redis.key_prefix,
        threshold_bytes=settings.provided.claim_check.threshold_bytes,
        ttl_seconds=settings.provided.claim_check.ttl_seconds,
    )
    http = providers.Singleton(httpx.Client, timeout=30.0)
    embedder = providers.Singleton(create_embedder, settings.provided.embedder)
