"""Whether a process is alive, as Linux sees it."""

from __future__ import annotations

import os


def alive(pid: int) -> bool:
    """Whether the process runs: it exists (even if another user's) and is not a zombie (one
    that exited and waits for its parent to reap it)."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        pass
    try:
        with open(f"/proc/{pid}/stat") as stat:
            return stat.read().rsplit(") ", 1)[-1][0] != "Z"
    except OSError:  # no /proc (not Linux): it exists
        return True
