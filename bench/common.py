"""What the benchmarks share: free ports, a private stack, CPU and memory accounting, ingesting
and waiting until documents are indexed."""

from __future__ import annotations

import contextlib
import math
import os
import random
import shutil
import tempfile
import threading
import time
from collections.abc import Callable, Iterator, Mapping
from pathlib import Path
from typing import Any

import httpx
from redis import Redis

from dev.stack import DEFAULT_MODEL, MODELS_DIR, ROOT, Stack
from sluice.embedders.catalogue import HASHING, MODELS

EMBEDDERS = (HASHING, *MODELS)  # what --embedder may name (the catalogue)
__all__ = ["DEFAULT_MODEL", "EMBEDDERS"]


def say(message: str) -> None:
    """A progress line, shown at once even when stdout is a pipe."""
    print(message, flush=True)


def use_embedder(model: str) -> None:
    """Settings for this process and every stack it starts: conf/ and the embedder `model` (a
    catalogue name; a model is read from where `make model` exported it)."""
    os.environ.setdefault("SLUICE_CONF_DIR", str(ROOT / "conf"))
    os.environ["SLUICE_EMBEDDER__MODEL"] = model
    os.environ["SLUICE_EMBEDDER__MODELS_DIR"] = str(MODELS_DIR)


@contextlib.contextmanager
def running_stack(
    keep_dir: bool,
    embedder: str,
    transform_workers: int = 0,
    extra_env: Mapping[str, str] | None = None,
) -> Iterator[Stack]:
    """A private stack in a temporary folder; always stopped (and the folder removed).
    `extra_env`: settings every process of the stack gets (e.g. `SLUICE_AUTH__API_KEYS`)."""
    directory = Path(tempfile.mkdtemp(prefix="sluice-bench-"))
    stack = Stack(
        directory,
        transform_workers=transform_workers,
        extra_env=dict(extra_env or {}),
        embedder=embedder,
    ).on_free_ports()
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


def _per_group(groups: Mapping[int, str], value: Callable[[list[str]], float]) -> dict[str, float]:
    """`value(fields of /proc/<pid>/stat after the command)` summed over each process group's
    processes (a stack process and what it forked), by name."""
    totals = dict.fromkeys(groups.values(), 0.0)
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            fields = (entry / "stat").read_text().rsplit(")", 1)[1].split()
        except (OSError, IndexError):
            continue
        name = groups.get(int(fields[2]))  # fields[2]: the process group
        if name is not None:
            totals[name] += value(fields)
    return totals


def stack_groups(stack: Stack) -> dict[int, str]:
    """The process group of each running stack process (its pid: each starts a session)."""
    return {pid: name for name, pid in stack.status().items() if pid}


def cpu_seconds(stack: Stack) -> dict[str, float]:
    """CPU seconds (user + system) used so far by each stack process and its process group."""
    ticks = os.sysconf("SC_CLK_TCK")
    return _per_group(stack_groups(stack), lambda f: (int(f[11]) + int(f[12])) / ticks)


PAGE_BYTES = os.sysconf("SC_PAGE_SIZE")


def rss_bytes(stack: Stack, groups: Mapping[int, str] | None = None) -> dict[str, int]:
    """Resident memory (bytes) of each running stack process, its forked children included."""
    found = _per_group(stack_groups(stack) if groups is None else groups, lambda f: int(f[21]))
    return {name: int(pages) * PAGE_BYTES for name, pages in found.items()}


class RssSampler:
    """Samples the RSS of every stack process in a thread (`with RssSampler(stack) as rss:`):
    the first, peak and last value seen of each, in bytes. A process restarted meanwhile (a
    new pid) is followed under its name."""

    def __init__(self, stack: Stack, interval: float = 0.5) -> None:
        self.stack = stack
        self.interval = interval
        self.first: dict[str, int] = {}
        self.peak: dict[str, int] = {}
        self.last: dict[str, int] = {}
        self.samples = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, name="rss-sampler", daemon=True)

    def sample(self) -> None:
        """Read every process's RSS once."""
        for name, value in rss_bytes(self.stack).items():
            self.first.setdefault(name, value)
            self.peak[name] = max(self.peak.get(name, 0), value)
            self.last[name] = value
        self.samples += 1

    def _run(self) -> None:
        while not self._stop.wait(self.interval):
            self.sample()

    def __enter__(self) -> RssSampler:
        self.sample()
        self._thread.start()
        return self

    def __exit__(self, *_: object) -> None:
        self._stop.set()
        self._thread.join()
        self.sample()

    def table(self) -> list[str]:
        """One line per process: first, peak and last RSS in MiB, largest peak first."""
        lines = [f"  {'process':<22}{'start MiB':>10}{'peak MiB':>10}{'end MiB':>10}"]
        for name in sorted(self.peak, key=lambda n: -self.peak[n]):
            first, peak, last = (v.get(name, 0) / 2**20 for v in (self.first, self.peak, self.last))
            lines.append(f"  {name:<22}{first:>10.0f}{peak:>10.0f}{last:>10.0f}")
        lines.append(f"  ({self.samples} samples, every {self.interval:g} s)")
        return lines


def load_average() -> str:
    """The 1, 5 and 15 minute load averages."""
    return " ".join(f"{x:.2f}" for x in os.getloadavg())


def percentile(values: list[float], q: float) -> float:
    """The q-quantile (0..1) of the values, nearest rank; NaN if there are none."""
    if not values:
        return float("nan")
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, max(0, math.ceil(q * len(ordered)) - 1))]


def post_documents(
    url: str,
    documents: list[dict[str, Any]],
    batch: int,
    headers: Mapping[str, str] | None = None,
) -> set[str]:
    """POST the documents to ingest in batches (waiting and retrying on 429); the ids ingest
    accepted (the others answered `unchanged`). `headers`: e.g. the API key's."""
    accepted: set[str] = set()
    with httpx.Client(base_url=url, timeout=120, headers=headers) as client:
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
