"""`make up` (dev.stack): all or nothing, with an error naming the process and its port."""

from __future__ import annotations

import socket
from pathlib import Path

import pytest

from dev.stack import Stack


@pytest.mark.stack
def test_a_process_that_cannot_start_stops_the_ones_started_before_it(tmp_path: Path) -> None:
    stack = Stack(tmp_path / "stack", embedder="hashing").on_free_ports()
    with socket.socket() as taken:  # ingest's port, held by someone else
        taken.bind(("127.0.0.1", stack.ports["ingest"]))
        taken.listen()
        with pytest.raises(SystemExit) as failure:
            stack.up()
    message = str(failure.value)
    assert f"port {stack.ports['ingest']}" in message and "ingest" in message
    assert "redis" in message and "milvus" in message  # started, then stopped again
    assert not any(stack.status().values()), stack.status()
