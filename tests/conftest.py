"""Fixtures shared by the suite: the real local stack on free ports, a private Redis, and
helpers to wait on them."""

from __future__ import annotations

import shutil
import subprocess
import time
import uuid
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path

import httpx
import pytest
from redis import Redis
from redis.exceptions import ConnectionError as RedisConnectionError

from dev.stack import Stack, free_port
from sluice.embedders.hashing import HashingEmbedder
from sluice.events import DOCUMENT_ACCEPTED, DocumentAccepted, make_event
from sluice.rq.publisher import RqPublisher
from sluice.settings import MilvusSettings, QueuesConfig, load_settings
from sluice.stores.milvus import ChunkStore, quote

# Short timeouts so that abandoned jobs and retries resolve within seconds in tests.
TEST_ENV = {
    "SLUICE_WORKER__HEARTBEAT_SECONDS": "1",
    "SLUICE_WORKER__MAINTENANCE_INTERVAL_SECONDS": "2",
    "SLUICE_WORKER__RECONCILE_INTERVAL_SECONDS": "1",
    "SLUICE_WORKER__RECONCILE_AFTER_SECONDS": "20",
    "SLUICE_ROUTING__SUBSCRIBERS__TRANSFORM__TIMEOUT_SECONDS": "8",
    "SLUICE_ROUTING__SUBSCRIBERS__INDEX__TIMEOUT_SECONDS": "8",
}


TRANSFORM_WORKERS = 2


@pytest.fixture(scope="session")
def stack(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """Redis, milvus-lite, the functions, the workers and the exporter, running for the session."""
    directory: Path = tmp_path_factory.mktemp("stack")
    running = Stack(
        directory,
        transform_workers=TRANSFORM_WORKERS,
        extra_env=TEST_ENV,
        embedder="hashing",  # fast and exact; tests/integration/test_quality.py runs the model
    ).on_free_ports()
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
    store.client.load_collection(store.collection)  # a restarted milvus-lite left it released
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


def publish_unclaimable(redis: Redis, document: DocumentAccepted) -> str:
    """Publish the document's `document.accepted` (its record `accepted`) with a claim check
    that is not there: transform answers 422, a permanent failure, so the delivery is
    dead-lettered at once. Returns the claim check's key: setting it to the document's JSON is
    the fix that lets a replay succeed."""
    routing = load_settings(QueuesConfig).routing
    key = f"sluice:blob:missing-{document.tenant}-{document.id}"
    redis.hset(
        f"sluice:doc:{document.tenant}:{document.id}",
        mapping={"version": document.version, "status": "accepted", "chunks": 0},
    )
    event = make_event(
        DOCUMENT_ACCEPTED,
        "/tests",
        document,
        subject=document.id,
        tenant=document.tenant,
        version=document.version,
    )
    event.data = {"claim_check": key}
    RqPublisher(routing, redis).publish(routing.routes_for(DOCUMENT_ACCEPTED), [event])
    return key


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


@dataclass(frozen=True)
class RedisServer:
    """A redis-server started for the tests: where it listens."""

    port: int

    @property
    def url(self) -> str:
        return f"redis://127.0.0.1:{self.port}/0"

    def client(self) -> Redis:
        return Redis.from_url(self.url)


@pytest.fixture(scope="session")
def redis_server(tmp_path_factory: pytest.TempPathFactory) -> Iterator[RedisServer]:
    """A real redis-server of its own on a free port, without persistence, for the tests that
    need Redis but not the stack."""
    executable = shutil.which("redis-server")
    if executable is None:
        pytest.fail("redis-server is not installed (make tools installs it)")
    workdir: Path = tmp_path_factory.mktemp("redis")
    port = free_port()
    log = (workdir / "redis.log").open("wb")
    command = [executable, "--port", str(port), "--bind", "127.0.0.1", "--save", ""]
    command += ["--appendonly", "no", "--dir", str(workdir)]
    process = subprocess.Popen(command, cwd=workdir, stdout=log, stderr=subprocess.STDOUT)
    server = RedisServer(port)
    try:
        _wait_until_ready(server, process, workdir / "redis.log")
        yield server
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait(timeout=10)
        log.close()


@pytest.fixture
def private_redis(redis_server: RedisServer) -> Iterator[Redis]:
    """A client of the private Redis (closed after the test)."""
    client = redis_server.client()
    yield client
    client.close()


def _wait_until_ready(server: RedisServer, process: subprocess.Popen[bytes], log: Path) -> None:
    deadline = time.monotonic() + 10
    client = Redis(host="127.0.0.1", port=server.port, socket_connect_timeout=0.5)
    try:
        while True:
            if process.poll() is not None:
                raise RuntimeError(f"redis-server exited: {log.read_text(errors='replace')}")
            try:
                if client.ping():
                    return
            except RedisConnectionError:
                pass
            if time.monotonic() > deadline:
                raise RuntimeError(f"redis-server did not answer on port {server.port}")
            time.sleep(0.05)
    finally:
        client.close()


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
