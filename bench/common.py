"""What the benchmarks share: free ports, a private stack, CPU accounting, ingesting and
waiting until documents are indexed."""

from __future__ import annotations

import contextlib
import os
import random
import shutil
import tempfile
import time
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import httpx
from redis import Redis

from dev.stack import Stack


def say(message: str) -> None:
    """A progress line, shown at once even when stdout is a pipe."""
    print(message, flush=True)


@contextlib.contextmanager
def running_stack(keep_dir: bool, embedder: str, transform_workers: int = 0) -> Iterator[Stack]:
    """A private stack in a temporary folder; always stopped (and the folder removed)."""
    directory = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    stack = Stack(directory, transform_workers=transform_workers, embedder=embedder).on_free_ports()
    try:
        stack.up()
        yield stack
    finally:
        stack.down()
        if keep_dir:
            print(f"\nlogs and data kept in {directory}")
        else:
            shutil.rmtree(directory, ignore_errors=True)


def machine_cpu_seconds() -> tuple[float, float]:
    """CPU seconds the whole machine has been busy (all CPUs): in processes (anyone's), and
    in interrupts and steal (loopback networking counts there, and a noisy neighbour VM)."""
    with open("/proc/stat") as stat:
        user, nice, system, _idle, _iowait, irq, softirq, steal = stat.readline().split()[1:9]
    ticks = os.sysconf("SC_CLK_TCK")
    processes = int(user) + int(nice) + int(system)
    return processes / ticks, (int(irq) + int(softirq) + int(steal)) / ticks


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each stack process and its process group."""
    groups = {pid: name for name, pid in stack.status().items() if pid}
    totals = dict.fromkeys(groups.values(), 0.0)
    ticks = os.sysconf("SC_CLK_TCK")
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        name = groups.get(int(fields[2]))  # fields[2]: the process group
        if name is not None:
            totals[name] += (int(fields[11]) + int(fields[12])) / ticks
    return totals


def post_documents(url: str, documents: list[dict[str, Any]], batch: int) -> set[str]:
    """POST the documents to ingest in batches (waiting and retrying on 429); the ids ingest
    accepted (the others answered `unchanged`)."""
    accepted: set[str] = set()
    with httpx.Client(base_url=url, timeout=120) as client:
        for start in range(0, len(documents), batch):
            body = {"documents": documents[start : start + batch]}
            while (response := client.post("/documents", json=body)).status_code == 429:
                time.sleep(float(response.headers.get("Retry-After", "1")))
            if response.status_code != 202:
                raise SystemExit(f"ingest answered {response.status_code}: {response.text[:500]}")
            accepted |= {r["id"] for r in response.json()["documents"] if r["status"] == "accepted"}
    return accepted


def wait_indexed(
    redis: Redis,
    keys: list[str],
    timeout: float,
    progress: Callable[[int, int], None] | None = None,
    interval: float = 0.1,
) -> None:
    """Poll the records' status (one pipelined round trip per poll) until all are indexed;
    `progress(done, total)` every few seconds if given."""
    pending = list(keys)
    deadline = time.monotonic() + timeout
    shown = 0.0
    while pending:
        with redis.pipeline(transaction=False) as pipe:
            for key in pending:
                pipe.hget(key, "status")
            statuses = pipe.execute()
        failed = [k for k, s in zip(pending, statuses, strict=True) if s == b"failed"]
        if failed:
            error = redis.hget(failed[0], "error")
            raise SystemExit(f"{len(failed)} documents failed, e.g. {failed[0]}: {error!r}")
        pending = [k for k, s in zip(pending, statuses, strict=True) if s != b"indexed"]
        if progress and (not pending or time.monotonic() - shown >= 5):
            progress(len(keys) - len(pending), len(keys))
            shown = time.monotonic()
        if pending and time.monotonic() > deadline:
            raise SystemExit(f"{len(pending)} documents not indexed after {timeout:.0f} s")
        if pending:
            time.sleep(interval)


def document_text(rng: random.Random, sentence: Callable[[random.Random], str]) -> str:
    """Paragraphs of 3 to 7 sentences, about 1,500 to 3,000 characters in all."""
    target = rng.randint(1500, 3000)
    paragraphs: list[str] = []
    length = 0
    while length < target:
        paragraph = " ".join(sentence(rng) for _ in range(rng.randint(3, 7)))
        paragraphs.append(paragraph)
        length += len(paragraph) + 2
    return "\n\n".join(paragraphs)
