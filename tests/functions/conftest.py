"""Functions built from their own containers, with a gateway overridden, not the environment:
Redis is a private redis-server (tests/conftest.py's `redis_server`), settings are the
repository's `conf/` plus the sections a test gives. Only the index function needs Milvus: its
tests take the stack's milvus-lite."""

from __future__ import annotations

from collections.abc import Callable, Iterator
from typing import Any

import flask
import pytest
from dependency_injector import providers
from flask.testing import FlaskClient
from redis import Redis
from werkzeug.routing import Rule

import sluice_dead_letter.app
import sluice_embed.app
import sluice_index.app
import sluice_ingest.app
import sluice_transform.app
from dev.stack import ROOT
from sluice.http import FunctionApp
from sluice.settings import (
    EmbedConfig,
    IndexConfig,
    IngestConfig,
    ProcessSettings,
    QueuesConfig,
    TransformConfig,
    load_settings,
)
from sluice_dead_letter.container import DeadLetterContainer
from sluice_embed.container import EmbedContainer
from sluice_index.container import IndexContainer
from sluice_ingest.container import IngestContainer
from sluice_transform.container import TransformContainer

FunctionClient = Callable[..., FlaskClient]
FUNCTIONS: dict[str, tuple[Any, type[ProcessSettings], Callable[[Any], FunctionApp]]] = {
    "ingest": (IngestContainer, IngestConfig, sluice_ingest.app.create_app),
    "transform": (TransformContainer, TransformConfig, sluice_transform.app.create_app),
    "embed": (EmbedContainer, EmbedConfig, sluice_embed.app.create_app),
    "index": (IndexContainer, IndexConfig, sluice_index.app.create_app),
    "dead_letter": (DeadLetterContainer, QueuesConfig, sluice_dead_letter.app.create_app),
}


def flask_client(function: FunctionApp) -> FlaskClient:
    """A Flask test client handing every request to the function with the URL rules
    functions-framework gives an HTTP function."""
    app = flask.Flask(f"test-{function.name}")
    app.url_map.add(Rule("/", defaults={"path": ""}, endpoint="run"))
    app.url_map.add(Rule("/<path:path>", endpoint="run"))
    app.view_functions["run"] = lambda path: function(flask.request)
    return app.test_client()


@pytest.fixture
def redis_client(private_redis: Redis) -> Redis:
    """The Redis the functions under test use: the private one, not the stack's."""
    return private_redis


@pytest.fixture
def function_client(
    redis_client: Redis, monkeypatch: pytest.MonkeyPatch
) -> Iterator[FunctionClient]:
    """`function_client("ingest", ingest={"queue_bound": 2})`: a test client of the function
    built by its own container, its settings overridden by the sections given (the embedder is
    the hashing one unless a test names another), its Redis the private one (or `redis=`)."""
    monkeypatch.setenv("SLUICE_CONF_DIR", str(ROOT / "conf"))
    containers = []

    def make(name: str, *, redis: Redis | None = None, **sections: Any) -> FlaskClient:
        container_class, config_class, create_app = FUNCTIONS[name]
        if "embedder" in config_class.model_fields:
            sections.setdefault("embedder", {"model": "hashing"})
        container = container_class()
        container.config.override(providers.Object(load_settings(config_class, **sections)))
        if hasattr(container, "gateways"):
            container.gateways.redis.override(providers.Object(redis or redis_client))
        containers.append(container)
        return flask_client(create_app(container))

    yield make
    for container in containers:
        container.unwire()
        container.shutdown_resources()
