"""Cold start: the time from the server process's start to the moment it can first serve.

The start is read from Linux's /proc (the kernel's record of when the process was created, so
interpreter start-up and imports count), not from a clock read in Python: the start of the
server's main process (its process group's leader), which then starts the process that imports
the function (granian's worker, under `sluice serve`; gunicorn's master, under
functions-framework's own command). The end is the first successful readiness check or request,
which comes after the container's heavy objects (clients, the embedding model) were built and
warmed.
"""

from __future__ import annotations

import os
import threading
import time
from pathlib import Path

from sluice.metrics import COLD_START

PROC = Path("/proc")


def boot_time(proc: Path = PROC) -> float:
    """When the machine booted (seconds since the epoch), from /proc/stat's `btime`."""
    for line in (proc / "stat").read_text().splitlines():
        if line.startswith("btime "):
            return float(line.split()[1])
    raise OSError(f"{proc / 'stat'} has no btime line")


def process_start_time(pid: int | str = "self", proc: Path = PROC) -> float:
    """When a process started (seconds since the epoch), from /proc/<pid>/stat.

    Field 22 of that line is the start in clock ticks after boot. The command name (field 2)
    may contain spaces and parentheses, so fields are counted after its last ')'.
    """
    stat = (proc / str(pid) / "stat").read_text()
    fields = stat.rsplit(")", 1)[1].split()
    ticks = int(fields[22 - 3])  # fields[0] is field 3 (the state)
    return boot_time(proc) + ticks / os.sysconf("SC_CLK_TCK")


def server_start_time() -> float:
    """When the server started: its process group's leader (the server's main process, which
    forks or spawns the one serving: PID 1 in a container), else this process; now where there
    is no /proc (not Linux)."""
    for pid in (os.getpgrp(), "self"):
        try:
            return process_start_time(pid)
        except (OSError, ValueError, IndexError):
            continue
    return time.time()


class ColdStart:
    """Observes `sluice_cold_start_seconds{function}` once per process, when it first serves."""

    def __init__(self, function: str, started: float | None = None) -> None:
        self.function = function
        self.started = server_start_time() if started is None else started
        self._observed_in: int | None = None  # the pid that observed (a fork observes again)
        self._lock = threading.Lock()

    def ready(self) -> bool:
        """Record that the process can serve; True the first time in this process."""
        if self._observed_in == os.getpid():
            return False
        with self._lock:
            if self._observed_in == os.getpid():
                return False
            self._observed_in = os.getpid()
        COLD_START.labels(self.function).observe(max(0.0, time.time() - self.started))
        return True
