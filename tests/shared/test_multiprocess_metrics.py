"""prometheus-client's multiprocess mode: /metrics adds up the samples of every process.

prometheus-client picks its value store when it is imported, so each step runs in a fresh
interpreter with PROMETHEUS_MULTIPROC_DIR set, as gunicorn's workers would.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from prometheus_client.parser import text_string_to_metric_families

WRITE = """
import sys
from sluice.metrics import DOCUMENTS, FUNCTION_DURATION
DOCUMENTS.labels("indexed").inc(int(sys.argv[1]))
FUNCTION_DURATION.labels("index", "/").observe(0.2)
"""
LIVE_GAUGE = """
import os, sys
from prometheus_client import Gauge
Gauge("test_live", "a live gauge", multiprocess_mode="livesum").set(1)
print(os.getpid())
"""
SCRAPE = """
import sys
from sluice.metrics import exposition
sys.stdout.write(exposition().decode())
"""


def _run(code: str, directory: Path, *args: str) -> str:
    env = {**os.environ, "PROMETHEUS_MULTIPROC_DIR": str(directory)}
    done = subprocess.run(
        [sys.executable, "-c", code, *args], env=env, capture_output=True, text=True, check=True
    )
    return done.stdout


def _samples(text: str) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def test_samples_of_two_processes_are_added_up(tmp_path: Path) -> None:
    _run(WRITE, tmp_path, "2")
    _run(WRITE, tmp_path, "3")
    samples = _samples(_run(SCRAPE, tmp_path))
    assert samples[("sluice_documents_total", (("status", "indexed"),))] == 5
    labels = (("function", "index"), ("route", "/"))
    assert samples[("sluice_function_request_duration_seconds_count", labels)] == 2


def test_live_gauges_of_dead_processes_are_dropped(tmp_path: Path) -> None:
    pid = _run(LIVE_GAUGE, tmp_path).strip()
    assert (tmp_path / f"gauge_livesum_{pid}.db").exists()
    samples = _samples(_run(SCRAPE, tmp_path))  # the writer has exited
    assert ("test_live", ()) not in samples
    assert not (tmp_path / f"gauge_livesum_{pid}.db").exists()


def test_without_the_directory_a_process_serves_its_own_registry(tmp_path: Path) -> None:
    env = {k: v for k, v in os.environ.items() if k != "PROMETHEUS_MULTIPROC_DIR"}
    done = subprocess.run(
        [sys.executable, "-c", WRITE + SCRAPE, "4"],
        env=env,
        capture_output=True,
        text=True,
        check=True,
    )
    samples = _samples(done.stdout)
    assert samples[("sluice_documents_total", (("status", "indexed"),))] == 4
    assert any(name == "process_cpu_seconds_total" for name, _ in samples)
    assert list(tmp_path.iterdir()) == []
