"""Process start times from /proc, and the cold-start histogram observed once per process."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from prometheus_client import REGISTRY

from sluice.coldstart import ColdStart, boot_time, process_start_time


def test_a_process_start_time_is_when_it_was_started() -> None:
    before = time.time()
    child = subprocess.Popen([sys.executable, "-c", "import time; time.sleep(30)"])
    after = time.time()
    try:
        started = process_start_time(child.pid)
    finally:
        child.kill()
        child.wait()
    # /proc counts in clock ticks (10 ms) after a boot time given in whole seconds.
    assert before - 1.0 <= started <= after + 1.0


def test_this_process_started_before_now() -> None:
    assert boot_time() < process_start_time() < time.time()


def test_a_command_name_with_spaces_and_parentheses_is_skipped(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text("cpu 1 2 3\nbtime 1000\n")
    (tmp_path / "42").mkdir()
    fields = ["S"] + ["0"] * 18 + ["250"] + ["0"] * 30  # field 22 (start) = 250 ticks
    (tmp_path / "42" / "stat").write_text(f"42 (a) b (c)) {' '.join(fields)}\n")
    assert process_start_time(42, tmp_path) == 1000 + 250 / os.sysconf("SC_CLK_TCK")


def test_a_missing_btime_is_an_error(tmp_path: Path) -> None:
    (tmp_path / "stat").write_text("cpu 1 2 3\n")
    with pytest.raises(OSError, match="btime"):
        boot_time(tmp_path)


def _cold_starts(function: str) -> tuple[float, float]:
    count = REGISTRY.get_sample_value("sluice_cold_start_seconds_count", {"function": function})
    total = REGISTRY.get_sample_value("sluice_cold_start_seconds_sum", {"function": function})
    return count or 0.0, total or 0.0


def test_cold_start_is_observed_once_from_the_start_time() -> None:
    cold = ColdStart("test-cold", started=time.time() - 5.0)
    assert cold.ready() is True
    assert cold.ready() is False
    count, total = _cold_starts("test-cold")
    assert count == 1
    assert 5.0 <= total < 60.0  # the 5 s before it was built, plus this test's little time
