"""`sluice models` against a real local HTTP server standing in for the models function's admin
API: the status as shown, the requests made (the gate of --eval), following a change with
--wait until it switched or the gate refused it, errors, drop-old's confirmation, where the
URL and the admin key come from."""

from __future__ import annotations

import json
import os
import pty
import select
import socket
import subprocess
import time
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

import pytest
from sluice_cli.config import local_admin_key

from tests.cli.conftest import SLUICE, Runner, clean_env
from tests.cli.httpserver import Answer, Received, ScriptedServer, error

KEY = "admin-key-1"
HASHING = {
    "model": "hashing",
    "embedder": {"name": "hashing", "dim": 384, "version": "hashing-v1"},
    "collection": "sluice_chunks_hashing_384",
}
E5 = {
    "model": "e5-small-v2",
    "embedder": {"name": "e5-small-v2", "dim": 384, "version": "onnx-int8-7d9092cb25f2"},
    "collection": "sluice_chunks_e5_small_v2_384",
}
CATALOGUE = [
    "hashing",
    {
        "name": "e5-small-v2",
        "dim": 384,
        "version": "onnx-int8-7d9092cb25f2",
        "description": "intfloat/e5-small-v2, int8",
    },
]
GATE_REFUSED = {"new": 0.5123, "old": 0.6012, "threshold": 0.5912, "passed": False}
MESSAGE = (
    "the quality gate refused the switch: nDCG@10 0.5123 with e5-small-v2, 0.6012 with "
    "hashing, at least 0.5912 needed"
)


def progress(done: int, total: int, rate: float = 0.0, eta: float | None = None) -> dict:
    return {"done": done, "pending": total - done, "total": total, "listed": True,
            "rate_per_second": rate, "eta_seconds": eta}  # fmt: skip


def state(
    phase: str | None = None,
    *,
    done: int = 0,
    total: int = 4,
    switch: bool = True,
    gate: dict[str, Any] | None = None,
    message: str = "",
    rate: float = 0.0,
    eta: float | None = None,
) -> dict[str, Any]:
    """A status of the change hashing -> e5-small-v2 (`previous`: switched to e5)."""
    active, other = (E5, HASHING) if phase == "previous" else (HASHING, E5)
    status: dict[str, Any] = {
        "active": active,
        "other": other if phase else None,
        "phase": phase,
        "switch_when_ready": switch,
        "gate": gate,
        "message": message,
    }
    if phase:
        status["progress"] = progress(done, total, rate, eta)
    return {**status, "models": CATALOGUE}


class Models:
    """The admin API's answers: GET /v1/models answers `statuses` one after another (the last
    one again and again); a POST answers `posts[path]`."""

    def __init__(self, statuses: Sequence[dict[str, Any]], **posts: Answer) -> None:
        self.statuses = list(statuses)
        self.posts = posts

    def __call__(self, received: Received) -> Answer:
        if received.headers.get("authorization") != f"Bearer {KEY}":
            return error(401, "unauthorized", "the admin key is not valid")
        if received.method == "GET" and received.path == "/v1/models":
            return Answer(200, self.statuses.pop(0) if len(self.statuses) > 1 else self.statuses[0])
        name = received.path.rsplit("/", 1)[-1].replace("-", "_")
        return self.posts.get(name, error(404, "not_found", "no such route"))


@pytest.fixture
def run(sluice: Runner) -> Runner:
    """`sluice models …` with the admin key in the environment."""

    def models(*args: str, env: dict[str, str] | None = None, timeout: float = 60) -> Any:
        return sluice("models", *args, env={"SLUICE_ADMIN_KEY": KEY, **(env or {})})

    return models


def _gets(server: ScriptedServer) -> list[Received]:
    return [r for r in server.received if r.method == "GET"]


def _posts(server: ScriptedServer) -> list[Received]:
    return [r for r in server.received if r.method == "POST"]


def test_status_shows_the_model_the_change_its_progress_and_the_gate(run: Runner) -> None:
    building = state("building", done=120, total=500, rate=12.5, eta=30.4)
    refused = state("ready", done=4, switch=False, gate=GATE_REFUSED, message=MESSAGE)
    with ScriptedServer(Models([building, building, refused, state()])) as server:
        bare = run("--models-url", server.url)
        named = run("status", "--models-url", server.url)
        gated = run("status", "--models-url", server.url)
        idle = run("status", "--models-url", server.url)
        raw = run("status", "--models-url", server.url, "--json")
    assert bare.code == named.code == gated.code == idle.code == raw.code == 0, bare.output
    assert bare.stdout == named.stdout  # `sluice models` is `sluice models status`
    text = bare.stdout
    assert "active" in text and "hashing (384 dims, version hashing-v1)" in text
    assert "collection sluice_chunks_hashing_384" in text
    assert "e5-small-v2 (384 dims, version onnx-int8-7d9092cb25f2)" in text
    assert "building" in text
    assert "120 / 500 documents, 12.5 docs/s, ETA 0:00:30" in text
    assert "as soon as every document is in" in text
    assert "hashing (active)" in text and "intfloat/e5-small-v2, int8" in text  # the catalogue

    assert "refused: nDCG@10 0.5123 with the new model, 0.6012 with the active one, at least " \
        "0.5912 needed" in " ".join(gated.stdout.split())  # fmt: skip
    assert MESSAGE in " ".join(gated.stdout.split())
    assert "waits for `sluice models switch`" in gated.stdout
    assert "4 / 4 documents, 0.0 docs/s, ETA 0:00:00" in gated.stdout

    assert "none (sluice models migrate --to NAME starts one)" in idle.stdout
    assert json.loads(raw.stdout) == state()
    assert all(r.headers["authorization"] == f"Bearer {KEY}" for r in server.received)
    assert {r.path for r in server.received} == {"/v1/models"}


def test_status_after_a_switch_says_the_previous_model_is_kept(run: Runner) -> None:
    with ScriptedServer(Models([state("previous", done=4)])) as server:
        result = run("--models-url", server.url)
    assert result.code == 0, result.output
    assert "previous" in result.stdout and "kept in step with the active model: 0" in (
        result.stdout
    )
    assert "`sluice models rollback` goes back to it" in result.stdout
    assert "e5-small-v2 (active)" in result.stdout


def _queries(path: Path, lines: Sequence[object]) -> Path:
    path.write_text("".join((x if isinstance(x, str) else json.dumps(x)) + "\n" for x in lines))
    return path


def test_migrate_sends_the_gate_of_the_eval_file(run: Runner, tmp_path: Path) -> None:
    queries = _queries(
        tmp_path / "queries.jsonl",
        [
            {"query": "how do gates open", "relevant": ["manual.pdf"], "tenant": "acme"},
            "",
            {"query": "heron", "relevant": ["notes-1", "notes-2"]},
        ],
    )
    models = Models([state()], migrate=Answer(202, state("building")))
    with ScriptedServer(models) as server:
        gated = run(
            "migrate", "--to", "e5-small-v2", "--eval", str(queries), "--min-ndcg", "0.4",
            "--models-url", server.url,
        )  # fmt: skip
        plain = run("migrate", "--to", "e5-small-v2", "--no-switch", "--models-url", server.url)
        tolerant = run(
            "migrate", "--to", "e5-small-v2", "--eval", str(queries), "--tolerance", "0.05",
            "--json", "--models-url", server.url,
        )  # fmt: skip
    assert gated.code == plain.code == tolerant.code == 0, gated.output
    bodies = [(r.path, r.json()) for r in _posts(server)]
    expected_queries = [
        {"query": "how do gates open", "relevant": ["manual.pdf"], "tenant": "acme"},
        {"query": "heron", "relevant": ["notes-1", "notes-2"], "tenant": "default"},
    ]
    assert bodies == [
        (
            "/v1/models/migrate",
            {
                "to": "e5-small-v2",
                "switch": True,
                "gate": {"queries": expected_queries, "min_ndcg": 0.4},
            },
        ),
        ("/v1/models/migrate", {"to": "e5-small-v2", "switch": False}),
        (
            "/v1/models/migrate",
            {
                "to": "e5-small-v2",
                "switch": True,
                "gate": {"queries": expected_queries, "tolerance": 0.05},
            },
        ),
    ]
    assert "building e5-small-v2 beside hashing: follow it with `sluice models --wait`" in (
        gated.stdout
    )
    assert json.loads(tolerant.stdout) == state("building")
    assert _gets(server) == []


@pytest.mark.parametrize(
    ("line", "reason"),
    [
        ("{not json", "not JSON"),
        ('["a list"]', "not a JSON object but list"),
        ({"query": "q", "relevant": ["d"], "qrels": 1}, "unknown key 'qrels'"),
        ({"query": "", "relevant": ["d"]}, '"query" must be a non-empty string'),
        ({"query": "q", "relevant": []}, '"relevant" must be a non-empty list of document ids'),
        ({"query": "q", "relevant": [3]}, '"relevant" must be a non-empty list of document ids'),
        ({"query": "q", "relevant": ["d"], "tenant": "Not A Tenant"}, "is not a tenant name"),
    ],
)
def test_a_bad_line_of_the_eval_file_is_named_and_nothing_is_sent(
    run: Runner, tmp_path: Path, line: object, reason: str
) -> None:
    good = {"query": "fine", "relevant": ["doc-1"], "tenant": "acme"}
    queries = _queries(tmp_path / "queries.jsonl", [good, "", line, good])
    with ScriptedServer(Models([state()])) as server:
        result = run("migrate", "--to", "e5-small-v2", "--eval", str(queries),
                     "--models-url", server.url)  # fmt: skip
    assert result.code == 2, result.output
    assert f"--eval {queries}:3: " in result.stderr and reason in result.stderr
    assert server.received == []


def test_gate_options_need_an_eval_file_and_an_empty_one_is_refused(
    run: Runner, tmp_path: Path
) -> None:
    empty = _queries(tmp_path / "empty.jsonl", ["", "  "])
    with ScriptedServer(Models([state()])) as server:
        alone = run("migrate", "--to", "e5-small-v2", "--min-ndcg", "0.5", "--models-url",
                    server.url)  # fmt: skip
        none = run("migrate", "--to", "x", "--eval", str(empty), "--models-url", server.url)
        missing = run("migrate", "--to", "x", "--eval", str(tmp_path / "absent.jsonl"))
        no_to = run("migrate", "--models-url", server.url)
        range_ = run("migrate", "--to", "x", "--eval", str(empty), "--min-ndcg", "1.5")
    assert alone.code == none.code == missing.code == no_to.code == range_.code == 2
    assert "--min-ndcg and --tolerance set the gate of --eval FILE" in alone.stderr
    assert "no queries" in none.stderr
    assert server.received == []


def test_migrate_wait_follows_the_change_until_it_switched(run: Runner) -> None:
    statuses = [
        state("building", done=0, total=4),
        state("building", done=2, total=4, rate=2.0, eta=1.0),
        state("ready", done=4, total=4, rate=2.0),
        state("previous", done=4, total=4, gate={**GATE_REFUSED, "passed": True}),
    ]
    models = Models(statuses, migrate=Answer(202, state("building")))
    with ScriptedServer(models) as server:
        result = run(
            "migrate", "--to", "e5-small-v2", "--wait", "--interval", "0.1",
            "--models-url", server.url,
        )  # fmt: skip
    assert result.code == 0, result.output
    assert len(_gets(server)) == 4 and len(_posts(server)) == 1
    lines = result.stderr.splitlines()  # not a terminal: a line at each phase
    assert lines[0] == "building e5-small-v2: 0 / 4 documents, 0.0 docs/s, ETA ?"
    assert "ready e5-small-v2: 4 / 4 documents, 2.0 docs/s, ETA 0:00:00" in lines
    last = result.stdout.strip().splitlines()[-1]
    assert last == "switched to e5-small-v2; hashing is kept for `sluice models rollback`"
    assert "passed: nDCG@10" in result.stdout  # the final status, with the gate


def test_migrate_wait_ends_with_exit_1_when_the_gate_refuses(run: Runner) -> None:
    statuses = [
        state("building", done=1, total=4),
        state("ready", done=4, total=4, switch=False, gate=GATE_REFUSED, message=MESSAGE),
    ]
    models = Models(statuses, migrate=Answer(202, state("building")))
    with ScriptedServer(models) as server:
        result = run(
            "migrate", "--to", "e5-small-v2", "--wait", "--interval", "0.1", "--json",
            "--models-url", server.url,
        )  # fmt: skip
    assert result.code == 1, result.output
    assert json.loads(result.stdout) == statuses[1]  # --json: stdout is the last status alone
    assert MESSAGE in " ".join(result.stderr.split())


def test_no_switch_wait_ends_when_built_and_a_timeout_stops_following(run: Runner) -> None:
    built = state("ready", done=4, total=4, switch=False)
    with ScriptedServer(Models([built], migrate=Answer(202, state("building")))) as server:
        result = run("migrate", "--to", "e5-small-v2", "--no-switch", "--wait", "--interval",
                     "0.1", "--models-url", server.url)  # fmt: skip
    assert result.code == 0, result.output
    assert "is built (every document is in): switch to it with `sluice models switch`" in (
        result.stdout
    )
    with ScriptedServer(Models([state("building", done=1)])) as server:
        slow = run("--wait", "--interval", "0.1", "--timeout", "0.3", "--models-url", server.url)
    assert slow.code == 1, slow.output
    assert "still building after 0.3 s; the change goes on" in slow.stdout
    assert len(_gets(server)) >= 2


def test_status_wait_follows_a_change_and_stops_when_it_is_dropped(run: Runner) -> None:
    with ScriptedServer(Models([state("building"), state("building"), state()])) as server:
        result = run("status", "--wait", "--interval", "0.1", "--models-url", server.url)
    assert result.code == 1, result.output
    assert "the change stopped: the new collection was dropped" in result.stdout


def test_switch_rollback_and_a_refused_switch(run: Runner) -> None:
    refused = state("ready", done=4, switch=False, gate=GATE_REFUSED, message=MESSAGE)
    posts = {"switch": Answer(200, state("previous")), "rollback": Answer(200, state())}
    with ScriptedServer(Models([state()], **posts)) as server:
        switched = run("switch", "--models-url", server.url)
        rolled = run("rollback", "--models-url", server.url)
    with ScriptedServer(Models([state()], switch=Answer(200, refused))) as gated:
        no = run("switch", "--models-url", gated.url)
    assert switched.code == 0 and rolled.code == 0, switched.output + rolled.output
    assert [(r.path, r.body) for r in _posts(server)] == [
        ("/v1/models/switch", b"{}"),
        ("/v1/models/rollback", b"{}"),
    ]
    assert switched.stdout.strip().endswith("switched to e5-small-v2")
    assert rolled.stdout.strip().endswith("rolled back: hashing is active again")
    assert no.code == 1 and MESSAGE in " ".join(no.stdout.split())


def test_errors_show_the_server_code_and_message(run: Runner, sluice: Runner) -> None:
    busy = error(
        409, "model_change_under_way",
        "e5-small-v2 is already beside hashing (phase building): finish it, or "
        "`sluice models drop-old`",
    )  # fmt: skip
    unknown = error(422, "unknown_model", "embedder 'nope' is not one Sluice ships")
    nothing = error(409, "no_previous", "there is no previous model to go back to")
    posts = {"migrate": busy, "rollback": nothing}
    with ScriptedServer(Models([state()], **posts)) as server:
        conflict = run("migrate", "--to", "e5-small-v2", "--models-url", server.url)
        wrong = run("--models-url", server.url, env={"SLUICE_ADMIN_KEY": "wrong"})
        keyless = sluice("models", "--models-url", server.url)  # no key at all
        back = run("rollback", "--models-url", server.url)
    with ScriptedServer(Models([state()], migrate=unknown)) as server:
        bad = run("migrate", "--to", "nope", "--models-url", server.url)
    with ScriptedServer(lambda r: error(403, "admin_api_off", "the admin API is off")) as off:
        forbidden = run("--models-url", off.url)
    assert conflict.code == 1
    assert "sluice: 409 model_change_under_way: e5-small-v2 is already beside hashing" in (
        conflict.stderr
    )
    assert wrong.code == 4 and "401 unauthorized: the admin key is not valid" in wrong.stderr
    assert "wrong" not in wrong.output  # the key is never printed
    assert "no admin key given" not in wrong.stderr
    assert keyless.code == 4 and "no admin key given: --admin-key, $SLUICE_ADMIN_KEY" in (
        keyless.stderr
    )
    assert back.code == 1 and "409 no_previous: there is no previous model" in back.stderr
    assert bad.code == 1 and "422 unknown_model: embedder 'nope'" in bad.stderr
    assert forbidden.code == 4 and "403 admin_api_off: the admin API is off" in forbidden.stderr


def _free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return int(probe.getsockname()[1])


def test_connection_refused_names_the_url_and_how_to_start_the_stack(run: Runner) -> None:
    url = f"http://127.0.0.1:{_free_port()}"
    result = run("--models-url", url)
    assert result.code == 3, result.output
    assert f"could not reach {url}" in result.stderr
    assert "start the stack with `make up`" in result.stderr and "--models-url" in result.stderr


def _in_terminal(args: list[str], env: dict[str, str], answer: bytes) -> tuple[int, str]:
    """Run the binary on a pseudo-terminal, typing `answer` once it asks; its exit code and
    output."""
    leader, follower = pty.openpty()
    process = subprocess.Popen(
        args, stdin=follower, stdout=follower, stderr=follower, env=env, close_fds=True
    )
    os.close(follower)
    chunks: list[bytes] = []
    typed = False
    deadline = time.monotonic() + 30
    try:
        while time.monotonic() < deadline:
            ready, _, _ = select.select([leader], [], [], 0.2)
            if ready:
                try:
                    chunk = os.read(leader, 65536)
                except OSError:  # EIO: every writer is gone
                    break
                if not chunk:
                    break
                chunks.append(chunk)
                if not typed and b"[y/N]" in b"".join(chunks):
                    os.write(leader, answer)
                    typed = True
            elif process.poll() is not None:
                break
        code = process.wait(timeout=10)
    finally:
        os.close(leader)
        if process.poll() is None:
            process.kill()
    return code, b"".join(chunks).decode("utf-8", "replace")


def test_drop_old_asks_first(run: Runner, home: Path) -> None:
    posts = {"drop_old": Answer(200, state())}
    with ScriptedServer(Models([state("previous")], **posts)) as server:
        refused = run("drop-old", "--models-url", server.url)  # stdin is not a terminal
        assert refused.code == 2 and "pass --yes" in refused.stderr
        assert server.received == []
        env = clean_env(home, SLUICE_ADMIN_KEY=KEY, TERM="xterm")
        args = [str(SLUICE), "models", "drop-old", "--models-url", server.url]
        declined, screen = _in_terminal(args, env, b"n\n")
        assert declined == 1, screen
        assert "Drop the previous model hashing's collection sluice_chunks_hashing_384" in screen
        assert _posts(server) == []
        confirmed, screen = _in_terminal(args, env, b"y\n")
        assert confirmed == 0, screen
        assert len(_posts(server)) == 1
        forced = run("drop-old", "--yes", "--models-url", server.url)
    assert forced.code == 0, forced.output
    assert [r.path for r in _posts(server)] == ["/v1/models/drop-old"] * 2
    assert forced.stdout.strip() == (
        "dropped the previous model hashing's collection sluice_chunks_hashing_384 "
        "(no rollback to it after this)"
    )
    with ScriptedServer(Models([state()])) as server:
        nothing = run("drop-old", "--yes", "--models-url", server.url)
    assert nothing.code == 1 and "nothing to drop" in nothing.stderr
    assert _posts(server) == []


@pytest.fixture
def servers() -> Iterator[tuple[ScriptedServer, ScriptedServer, ScriptedServer]]:
    with (
        ScriptedServer(Models([state()])) as a,
        ScriptedServer(Models([state()])) as b,
        ScriptedServer(Models([state()])) as c,
    ):
        yield a, b, c


def test_the_url_and_the_key_from_flags_the_environment_and_the_config_file(
    sluice: Runner, home: Path, servers: tuple[ScriptedServer, ScriptedServer, ScriptedServer]
) -> None:
    a, b, c = servers
    config = home / ".config" / "sluice" / "config.toml"
    config.parent.mkdir(parents=True)
    config.write_text(f'models_url = "{a.url}"\nadmin_key = "{KEY}"\nurl = "http://x:1"\n')
    assert sluice("models").code == 0  # the config file
    env = {"SLUICE_MODELS_URL": b.url, "SLUICE_ADMIN_KEY": "env-key"}
    assert sluice("models", "status", env=env).code == 4  # the environment's key, refused
    assert sluice("models", "--admin-key", KEY, env=env).code == 0  # a flag over it
    assert sluice("models", "--models-url", c.url, "--admin-key", KEY, env=env).code == 0
    assert [len(s.received) for s in servers] == [1, 2, 1]
    assert b.received[0].headers["authorization"] == "Bearer env-key"
    assert b.received[1].headers["authorization"] == f"Bearer {KEY}"


def test_the_local_stack_key_is_read_for_a_url_on_this_machine(home: Path, tmp_path: Path) -> None:
    project = tmp_path / "project"
    secret = project / ".sluice" / "secrets" / "admin_key"
    secret.parent.mkdir(parents=True)
    secret.write_text(KEY + "\n")
    with ScriptedServer(Models([state()])) as server:
        done = subprocess.run(
            [str(SLUICE), "models", "--models-url", server.url],
            env=clean_env(home),
            cwd=project,
            stdin=subprocess.DEVNULL,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert done.returncode == 0, done.stderr
    assert server.received[0].headers["authorization"] == f"Bearer {KEY}"
    assert local_admin_key("http://localhost:8086", project) == KEY
    assert local_admin_key("http://[::1]:8086", project) == KEY
    assert local_admin_key("https://sluice.example.com", project) is None  # never sent away
    assert local_admin_key("http://127.0.0.1:8086", tmp_path) is None  # no file there


def test_options_before_the_sub_command_are_refused(run: Runner) -> None:
    result = run("--json", "switch", "--models-url", "http://127.0.0.1:9")
    assert result.code == 2
    assert "put the options after the sub-command (sluice models switch --json …)" in (
        result.stderr
    )


def test_wait_on_a_terminal_shows_a_progress_bar(home: Path) -> None:
    from tests.cli.test_cli_progress import _run_in_terminal

    statuses = [state("building", done=n, total=8, rate=4.0, eta=(8 - n) / 4) for n in (0, 4, 8)]
    models = Models([*statuses, state("previous", done=8, total=8)])
    env = clean_env(home, COLUMNS="160", LINES="40", TERM="xterm-256color", SLUICE_ADMIN_KEY=KEY)
    env.pop("NO_COLOR", None)
    with ScriptedServer(models) as server:
        code, screen = _run_in_terminal(
            [str(SLUICE), "models", "--wait", "--interval", "0.2", "--models-url", server.url],
            env,
        )
    assert code == 0, screen
    assert "building e5-small-v2" in screen and "━" in screen  # the bar
    assert "4 / 8 documents, 4.0 docs/s, ETA 0:00:01" in screen
    assert "switched to e5-small-v2" in screen
