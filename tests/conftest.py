"""Fixtures shared by the suite: the real local stack on free ports, and helpers to wait on it."""

from __future__ import annotations

import socket
import time
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from dev.stack import DEFAULT_PORTS, Stack, worker_names
from sluice.embedders.hashing import HashingEmbedder
from sluice.settings import MilvusSettings
from sluice.stores.milvus import ChunkStore, quote

# Short timeouts so that abandoned jobs and retries resolve within seconds in tests.
TEST_ENV = {
    "SLUICE_WORKER__ABANDONED_GRACE_SECONDS": "2",
    "SLUICE_WORKER__MAINTENANCE_INTERVAL_SECONDS": "2",
    "SLUICE_ROUTING__SUBSCRIBERS__TRANSFORM__TIMEOUT_SECONDS": "8",
    "SLUICE_ROUTING__SUBSCRIBERS__INDEX__TIMEOUT_SECONDS": "8",
}


TRANSFORM_WORKERS = 2


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, milvus-lite, the functions, the workers and the exporter, running for the session."""
    directory: Path = tmp_path_factory.mktemp("stack")
    running = Stack(
        directory,
        {name: free_port() for name in [*DEFAULT_PORTS, *worker_names(TRANSFORM_WORKERS)]},
        transform_workers=TRANSFORM_WORKERS,
        extra_env=TEST_ENV,
        embedder="hashing",  # fast and exact; tests/integration/test_quality.py runs the model
    )
    try:
        running.up()
        yield running
    finally:
        running.down()


@pytest.fixture(scope="session")
def redis_client(stack: Stack) -> Redis:
    """A client of the stack's Redis."""
    return Redis.from_url(stack.url("redis"))


@pytest.fixture(scope="session")
def chunk_store(stack: Stack) -> Iterator[ChunkStore]:
    """The stack's chunk collection, for counting and reading rows with pymilvus."""
    store = ChunkStore(MilvusSettings(uri=stack.url("milvus")), HashingEmbedder(384).identity)
    store.ensure_collection()
    yield store
    store.close()


def document_rows(
    store: ChunkStore, tenant: str, doc_id: str, fields: list[str]
) -> list[dict[str, object]]:
    """The rows of one document in the store's collection (the fields named)."""
    expr = f"tenant == {quote(tenant)} and doc_id == {quote(doc_id)}"
    return list(
        store.client.query(store.collection, filter=expr, output_fields=fields, limit=16_384)
    )


@pytest.fixture
def tenant() -> str:
    """A tenant of its own for each test, so tests never see each other's documents."""
    return f"t{uuid.uuid4().hex[:12]}"


@pytest.fixture(scope="session")
def ingest(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client for the ingest function."""
    with httpx.Client(base_url=stack.url("ingest"), timeout=30) as client:
        yield client


def wait_for(condition: Callable[[], object], timeout: float = 60.0, what: str = "") -> object:
    """Poll until `condition()` is truthy; fail the test with `what` after `timeout` seconds."""
    deadline = time.monotonic() + timeout
    while True:
        value = condition()
        if value:
            return value
        if time.monotonic() > deadline:
            pytest.fail(f"timed out after {timeout:.0f} s waiting for {what or condition}")
        time.sleep(0.2)


def wait_status(
    client: httpx.Client, doc_id: str, tenant: str, status: str, timeout: float = 60.0
) -> dict[str, object]:
    """Wait until the document reaches `status`; return its record."""

    def reached() -> dict[str, object] | None:
        response = client.get(f"/documents/{doc_id}", params={"tenant": tenant})
        record = response.json() if response.status_code == 200 else None
        return record if record and record["status"] == status else None

    result = wait_for(reached, timeout, f"document {doc_id} to be {status}")
    assert isinstance(result, dict)
    return result


def pytest_collection_modifyitems(items: list[pytest.Item]) -> None:
    """Mark every test that uses the running stack, so `-m "not stack"` skips them."""
    for item in items:
        if "stack" in getattr(item, "fixturenames", ()):
            item.add_marker(pytest.mark.stack)


@pytest.fixture(scope="session")
def searchapi(stack: Stack) -> Iterator[httpx.Client]:
    """An HTTP client for the stack's search service."""
    with httpx.Client(base_url=stack.url("searchapi"), timeout=30) as client:
        yield client
