"""The `sluice` entry point: help and exit codes, and the server-side commands handed to the
server library (or refused with exit 2 where it is not installed)."""

from __future__ import annotations

import subprocess
import sys
import sysconfig
from pathlib import Path

import pytest
from sluice_cli.main import server_command

from dev.stack import ROOT
from tests.cli.conftest import Runner, clean_env
from tests.cli.httpserver import Answer, ScriptedServer


@pytest.mark.parametrize(
    ("args", "delegated"),
    [
        (["serve", "--target", "x"], ["serve", "--target", "x"]),
        (["worker", "--burst"], ["worker", "--burst"]),
        (["exporter", "--metrics-port", "9"], ["exporter", "--metrics-port", "9"]),
        (["documents", "reindex"], ["documents", "reindex"]),
        (["dlq", "--direct", "list"], ["dlq", "list"]),
        (["dlq", "replay", "--all", "--direct"], ["dlq", "replay", "--all"]),
        (["dlq", "list"], None),
        (["documents", "--status", "failed"], None),
        (["search", "serve"], None),
        ([], None),
    ],
)
def test_which_commands_go_to_the_server_library(
    args: list[str], delegated: list[str] | None
) -> None:
    assert server_command(args) == delegated


def test_help_lists_the_commands_the_exit_codes_and_the_server_commands(sluice: Runner) -> None:
    result = sluice("--help")
    assert result.code == 0
    text = " ".join(result.stdout.split())
    for command in ("ingest", "search", "status", "delete", "documents", "dlq"):
        assert command in text
    assert "Exit codes: 0 ok · 1 some document or request failed · 2 usage or configuration" in (
        text
    )
    assert "4 authentication refused (401/403)" in text
    assert "sluice serve" in text and "sluice documents reindex" in text and "--direct" in text
    assert "--install-completion" in text and "--show-completion" in text


def test_usage_errors_are_exit_2(sluice: Runner, tmp_path: Path) -> None:
    assert sluice("ingest").code == 2  # no PATH
    assert sluice("ingest", str(tmp_path / "absent")).code == 2
    assert sluice("search", "q", "--mode", "fuzzy").code == 2
    assert sluice("search", "q", "--k", "0").code == 2
    assert sluice("search", "q", "--filter", "novalue").code == 2
    assert sluice("dlq", "replay").code == 2  # neither job ids nor --all
    assert sluice("nonsense").code == 2


def test_the_server_commands_run_the_server_library(sluice: Runner) -> None:
    worker = sluice("worker", "--help")
    assert worker.code == 0 and "--burst" in worker.stdout  # argparse's help of `sluice worker`
    direct = sluice("dlq", "--direct", "replay", "--help")
    assert direct.code == 0 and direct.stdout.startswith("usage: sluice dlq replay")
    assert "job_ids" in direct.stdout  # argparse's, not the HTTP command's JOB_ID


def test_without_the_server_library_a_server_command_is_exit_2(home: Path) -> None:
    """The environment a user's `uv tool install ./cli` gives: the command line's dependencies
    but no `sluice` package (no site processing: the workspace's editable .pth files are not
    read; the command line's own source and site-packages on the path)."""
    site_packages = sysconfig.get_paths()["purelib"]
    env = clean_env(home, PYTHONPATH=f"{ROOT / 'cli'}:{site_packages}")
    probe = [sys.executable, "-S", "-c"]
    assert subprocess.run([*probe, "import sluice"], env=env, capture_output=True).returncode
    code = "import sys; from sluice_cli.main import main; sys.exit(main(sys.argv[1:]))"
    for args in (["worker"], ["serve"], ["documents", "reindex"], ["dlq", "--direct", "list"]):
        done = subprocess.run([*probe, code, *args], env=env, capture_output=True, text=True)
        assert done.returncode == 2, done.stderr
        assert done.stderr.strip() == (
            "sluice: this command runs Sluice's own processes: it needs the server library "
            "(sluice-shared)"
        )
    with ScriptedServer(lambda r: Answer(200, {"dead_letters": []})) as server:
        done = subprocess.run(
            [*probe, code, "dlq", "list", "--url", server.url],
            env=env,
            capture_output=True,
            text=True,
        )
    assert done.returncode == 0, done.stderr  # the HTTP commands need no server library
    assert done.stdout.strip() == "0 dead letters"


def test_delete_asks_first(sluice: Runner) -> None:
    with ScriptedServer(lambda r: Answer(202, {"id": "doc-1", "status": "deleted"})) as server:
        refused = sluice("delete", "doc-1", "--url", server.url)  # stdin is not a terminal
        assert refused.code == 2 and "pass --yes" in refused.stderr
        assert server.received == []
        done = sluice("delete", "doc-1", "--yes", "--url", server.url, "--tenant", "acme")
    assert done.code == 0
    (request,) = server.received
    assert request.method == "DELETE" and request.path == "/v1/ingest/documents/doc-1"
    assert request.query == {"tenant": ["acme"]}


def test_shell_completion(sluice: Runner) -> None:
    script = sluice("--show-completion", "bash")
    assert script.code == 0 and "_sluice_completion" in script.stdout
    words = {"_SLUICE_COMPLETE": "complete_bash", "COMP_WORDS": "sluice search --mo"}
    completed = sluice(env={**words, "COMP_CWORD": "2"})
    assert completed.stdout.split() == ["--mode"]
    commands = sluice(env={**words, "COMP_WORDS": "sluice d", "COMP_CWORD": "1"})
    assert commands.stdout.split() == ["delete", "documents", "dlq"]
