"""The demo (what `make demo` runs after `make up`), shortened, against the test stack."""

from __future__ import annotations

import subprocess
import sys

from dev.stack import ROOT, Stack


def test_the_demo_indexes_the_corpus_and_prints_hits_in_every_mode(stack: Stack) -> None:
    result = subprocess.run(
        [sys.executable, "-m", "dev.demo", "--limit", "30", "--dir", str(stack.directory)],
        cwd=ROOT,
        env=stack.env(),
        capture_output=True,
        text=True,
        timeout=300,
        check=False,
    )
    assert result.returncode == 0, result.stdout + result.stderr
    assert "30/30 indexed" in result.stdout
    for mode in ("hybrid", "dense", "text"):
        lines = [line for line in result.stdout.splitlines() if line.strip().startswith(mode)]
        assert len(lines) == 4 and all("(no hits)" not in line for line in lines), lines
    assert stack.url("searchapi") in result.stdout
    console = f"Open the web console: {stack.url('searchapi')}/"
    assert console in result.stdout
