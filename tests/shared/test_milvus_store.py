"""ChunkStore's connection to a milvus-lite server, over real gRPC."""

from __future__ import annotations

import os
import signal
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from dev.stack import BIN, _port_open, free_port
from sluice.embedders.hashing import HashingEmbedder
from sluice.settings import MilvusSettings
from sluice.stores.milvus import ChunkStore

# Long enough for a client that pings every 10 s while idle to be told GOAWAY `too_many_pings`
# by a server with gRPC's default ping policy (seen from about 100 s of idleness on).
IDLE_SECONDS = 110


@pytest.fixture
def milvus_uri(tmp_path: Path) -> Iterator[str]:
    """A milvus-lite server of its own on a free port."""
    port = free_port()
    log = (tmp_path / "milvus.log").open("wb")
    process = subprocess.Popen(
        [
            str(BIN / "milvus-lite"),
            "server",
            "--data-dir",
            str(tmp_path / "data"),
            "--host",
            "127.0.0.1",
            "--port",
            str(port),
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    try:
        deadline = time.monotonic() + 60
        while not _port_open(port):
            assert process.poll() is None, (tmp_path / "milvus.log").read_text()
            assert time.monotonic() < deadline, "milvus-lite did not start"
            time.sleep(0.2)
        yield f"http://127.0.0.1:{port}"
    finally:
        os.killpg(process.pid, signal.SIGINT)
        process.wait(timeout=30)
        log.close()


@pytest.mark.stack  # a server process and ~2 minutes of waiting
def test_a_store_opened_after_the_process_was_idle_connects(milvus_uri: str) -> None:
    """pymilvus shares one connection per address in a process. With its default keepalive
    (a ping every 10 s, idle or not) milvus-lite dropped that connection while idle, and the
    next ChunkStore of the process failed with `Fail connecting ... (Too many pings)`: what
    made every later stack test that opened a store fail in CI."""
    identity = HashingEmbedder(384).identity
    first = ChunkStore(MilvusSettings(uri=milvus_uri), identity)
    first.ensure_collection()
    first.close()
    time.sleep(IDLE_SECONDS)
    second = ChunkStore(MilvusSettings(uri=milvus_uri), identity)
    try:
        second.ensure_collection()
        assert second.client.has_collection(second.collection)
    finally:
        second.close()
