"""The command line's tests run the installed `sluice` binary, in an environment of their own
(no SLUICE_* variables, a config home in a temporary folder)."""

from __future__ import annotations

import os
import subprocess
from dataclasses import dataclass
from pathlib import Path
from typing import Protocol

import pytest

from dev.stack import ROOT

SLUICE = ROOT / ".venv" / "bin" / "sluice"


@dataclass(frozen=True)
class Result:
    """A finished run of the binary."""

    code: int
    stdout: str
    stderr: str

    @property
    def output(self) -> str:
        return self.stdout + self.stderr


class Runner(Protocol):
    def __call__(
        self, *args: str, env: dict[str, str] | None = None, timeout: float = 120
    ) -> Result: ...


@pytest.fixture
def home(tmp_path: Path) -> Path:
    """The run's home folder; its config home is `home/.config` (empty at first)."""
    path = tmp_path / "home"
    (path / ".config").mkdir(parents=True)
    return path


def clean_env(home: Path, **extra: str) -> dict[str, str]:
    """The test process's environment without SLUICE_ variables, HOME and XDG_CONFIG_HOME
    in `home`, then `extra`."""
    env = {k: v for k, v in os.environ.items() if not k.startswith("SLUICE_")}
    env.update(HOME=str(home), XDG_CONFIG_HOME=str(home / ".config"), COLUMNS="160")
    env.update(extra)
    env.pop("FORCE_COLOR", None)
    return env


@pytest.fixture
def sluice(home: Path) -> Runner:
    """Run `sluice ARGS…` (stdin closed, output captured); `env` adds variables."""

    def run(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> Result:
        done = subprocess.run(
            [str(SLUICE), *args],
            env=clean_env(home, **(env or {})),
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=timeout,
        )
        return Result(done.returncode, done.stdout, done.stderr)

    return run
