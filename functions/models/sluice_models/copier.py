"""The copier: a thread that does the model change's work (`ModelChanges.step`) until the
process stops, at a lower priority than everything else on the machine."""

from __future__ import annotations

import logging
import os
import threading

from sluice.errors import Unavailable
from sluice_models.changes import ModelChanges

log = logging.getLogger(__name__)


class Copier:
    """Runs `changes.step()` in a loop in its own thread, idle `poll_seconds` between checks
    when there is nothing to do, and after a failure (Redis or Milvus away) a little longer."""

    def __init__(self, changes: ModelChanges, poll_seconds: float, nice: int) -> None:
        self.changes = changes
        self.poll_seconds = poll_seconds
        self.nice = nice
        self._stop = threading.Event()
        self._thread: threading.Thread | None = None
        self._lock = threading.Lock()

    def start(self) -> None:
        """Start the thread, once per process (a forked server worker starts its own)."""
        with self._lock:
            if self._thread is not None and self._thread.is_alive():
                return
            self._thread = threading.Thread(target=self._run, name="copier", daemon=True)
            self._thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Ask the thread to stop after its current step, and wait for it."""
        self._stop.set()
        if self._thread is not None:
            self._thread.join(timeout)

    def _run(self) -> None:
        # On Linux a thread has its own niceness: only the copy yields, not the HTTP threads.
        os.nice(self.nice)
        failures = 0
        while not self._stop.is_set():
            try:
                if failures == 0:
                    self.changes.resume()
                worked = self.changes.step()
                failures = 0
            except (Unavailable, OSError, ConnectionError) as exc:
                failures += 1
                log.warning("model change step failed, retrying: %s", exc)
                worked = False
            except Exception:
                failures += 1
                log.exception("model change step failed, retrying")
                worked = False
            if not worked:
                self._stop.wait(self.poll_seconds * min(10, 1 + failures))
