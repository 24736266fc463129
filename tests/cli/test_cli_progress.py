"""The ingest run's display: a rich progress bar under a terminal, plain lines otherwise."""

from __future__ import annotations

import os
import pty
import re
import select
import subprocess
import time
from pathlib import Path

from tests.cli.conftest import SLUICE, Runner, clean_env
from tests.cli.httpserver import Answer, Received, ScriptedServer, submitted

ANSI = re.compile(r"\x1b\[[0-9;?]*[A-Za-z]|\x1b\][^\x07]*\x07|\r")


def _script(received: Received) -> Answer:
    if received.method == "POST":
        time.sleep(0.05)  # long enough for the bar to be drawn while sending
        return submitted(received)
    return Answer(200, {"id": "x", "status": "indexed", "error": None})


def _corpus(root: Path) -> Path:
    root.mkdir()
    for n in range(6):
        (root / f"doc{n}.txt").write_text(f"document {n} " * 50)
    return root


def _run_in_terminal(args: list[str], env: dict[str, str], timeout: float = 60) -> tuple[int, str]:
    """Run the binary with a pseudo-terminal as stdin, stdout and stderr; its exit code and
    everything it wrote, escape sequences removed."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        args, stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True
    )
    os.close(follower)
    chunks: list[bytes] = []
    deadline = time.monotonic() + timeout
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: every writer is gone
                    break
                if not chunk:
                    break
                chunks.append(chunk)
            elif process.poll() is not None:
                break
        code = process.wait(timeout=10)
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
    return code, ANSI.sub("", b"".join(chunks).decode("utf-8", "replace"))


def test_a_terminal_gets_the_progress_bar(home: Path, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    env = clean_env(home, COLUMNS="200", LINES="40", TERM="xterm-256color")
    env.pop("NO_COLOR", None)
    with ScriptedServer(_script) as server:
        code, screen = _run_in_terminal(
            [str(SLUICE), "ingest", str(corpus), "--url", server.url, "--wait"], env
        )
    assert code == 0, screen
    assert "sending" in screen and "indexing" in screen  # the two tasks' bars
    assert "6/6 sent · 6 accepted · 0 unchanged · 0 failed" in screen
    assert "6 indexed · 0 failed" in screen
    assert "ETA" in screen
    assert re.search(r"\d+(\.\d+)? [kM]?B/s", screen), screen  # the rate while sending
    assert re.search(r"6/6 docs", screen), screen
    assert re.search(r"\d+\.\d docs/s", screen), screen
    assert "sent 6 of 6 documents" in screen  # then the summary
    assert "accepted  " not in screen  # no line per document above the bar


def test_without_a_terminal_plain_lines(sluice: Runner, tmp_path: Path) -> None:
    corpus = _corpus(tmp_path / "corpus")
    with ScriptedServer(_script) as server:
        result = sluice("ingest", str(corpus), "--url", server.url, "--wait")
    assert result.code == 0
    lines = result.stderr.splitlines()
    assert sorted(lines) == sorted(
        [f"accepted  {corpus / f'doc{n}.txt'}" for n in range(6)]
        + ["waiting for 6 documents to be indexed"]
        + [f"indexed   {corpus / f'doc{n}.txt'}" for n in range(6)]
    )
    assert "\x1b[" not in result.output and "ETA" not in result.output
    assert result.stdout.startswith("sent 6 of 6 documents")
