"""`sluice models`: the embedding model and its changes without downtime, over the models
function's admin API (`GET /v1/models`, `POST /v1/models/migrate|switch|rollback|drop-old`,
behind the admin key).

`migrate --wait` (and `sluice models --wait`) follows the change by reading the status every
`--interval` seconds: a progress bar on a terminal, a line now and then otherwise, until the
new model is active, or the change stops without it (the quality gate refused the switch, the
new collection was dropped, or it waits for `sluice models switch`)."""

from __future__ import annotations

import sys
import time
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from pathlib import Path
from types import TracebackType
from typing import Annotated, Any

import typer
from rich.console import Console
from rich.progress import BarColumn, Progress, TaskID, TextColumn
from rich.text import Text

from sluice_cli import render
from sluice_cli.client import Client
from sluice_cli.config import DEFAULT_MODELS_URL, LOCAL_ADMIN_KEY, MODELS_URL_ENV, local_admin_key
from sluice_cli.errors import FAILED, OK, AuthRefused, CliError, Unreachable, UsageProblem
from sluice_cli.gate import read_queries
from sluice_cli.options import AdminKey, Config, Json, ModelsUrl

STATUS = "/v1/models"
LINE_EVERY = 10.0  # seconds between progress lines without a terminal (phase changes at once)

models_app = typer.Typer(
    help="The embedding model: which one is active, and changing it without downtime (a new "
    "collection built beside the live one, then one atomic switch; rollback; drop the old). "
    "Over the models function's admin API, with its admin key. Without a sub-command: the "
    "status.",
    rich_markup_mode="markdown",
)

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)

Wait = Annotated[
    bool,
    typer.Option(
        "--wait",
        "-w",
        help="Follow the change (progress: done / total documents, rate, ETA) until the new "
        "model is active; exit 1 when it stops without (the gate refused the switch, the "
        "new collection was dropped).",
    ),
]
Interval = Annotated[
    float,
    typer.Option(
        "--interval", min=0.1, max=60.0, metavar="S", help="With --wait: seconds between reads."
    ),
]
Timeout = Annotated[
    float,
    typer.Option(
        "--timeout",
        min=0.0,
        metavar="S",
        help="With --wait: stop following after S seconds (exit 1; the change goes on). "
        "0: no limit.",
    ),
]


@contextmanager
def admin_client(url: str, admin_key: str | None) -> Iterator[Client]:
    """A client of the models function with the admin key (the flag's, the environment's, the
    config file's, else the local stack's), whose errors say what to do about them."""
    key = admin_key or local_admin_key(url)
    try:
        with Client(url, key) as client:
            yield client
    except Unreachable as exc:
        raise Unreachable(
            f"{exc}. Is the models function running? Locally, start the stack with `make up` "
            f"(it listens on {DEFAULT_MODELS_URL}); else name it with --models-url or "
            f"${MODELS_URL_ENV}"
        ) from exc
    except AuthRefused as exc:
        if exc.status != 401 or key:
            raise
        raise AuthRefused(
            exc.status,
            exc.code,
            f"{exc.message} (no admin key given: --admin-key, $SLUICE_ADMIN_KEY, `admin_key` "
            f"in the config file, or the local stack's ./{LOCAL_ADMIN_KEY.as_posix()})",
        ) from exc


def _show(status: Mapping[str, Any], *, catalogue: bool = False) -> None:
    out.print(render.models_status(status))
    models = status.get("models")
    if catalogue and isinstance(models, list) and models:
        out.print()
        active = (status.get("active") or {}).get("model")
        out.print(render.models_table(models, active))


def _finish(status: Mapping[str, Any], as_json: bool, code: int, text: str) -> None:
    """The status (a table, or JSON with `as_json`), then what happened (on stderr with
    `as_json`, so that stdout is the JSON alone); exit `code` unless it is 0."""
    if as_json:
        render.raw_json(status)
    else:
        _show(status)
    (err if as_json else out).print(Text(text, style="green" if code == OK else "red"))
    if code != OK:
        raise typer.Exit(code)


@models_app.callback(invoke_without_command=True)
def models_root(
    ctx: typer.Context,
    as_json: Json = False,
    wait: Wait = False,
    interval: Interval = 2.0,
    timeout: Timeout = 0.0,
    models_url: ModelsUrl = DEFAULT_MODELS_URL,
    admin_key: AdminKey = None,
    config: Config = None,
) -> None:
    """The embedding model: which one is active, and changing it without downtime (a new
    collection built beside the live one, then one atomic switch; rollback; drop the old).
    Without a sub-command: the status (as `sluice models status`)."""
    if ctx.invoked_subcommand is not None:
        given = [
            param.opts[0]
            for param in ctx.command.params
            if param.name and _from_command_line(ctx, param.name)
        ]
        if given:
            command = f"sluice models {ctx.invoked_subcommand}"
            raise UsageProblem(f"{command}: put the options after the sub-command ({command} "
                               f"{given[0]} …)")  # fmt: skip
        return
    status_(as_json, wait, interval, timeout, models_url, admin_key, config)


def _from_command_line(ctx: typer.Context, name: str) -> bool:
    """Whether the parameter was given on the command line (Typer's click, not importable by
    name: its ParameterSource compared by name)."""
    return getattr(ctx.get_parameter_source(name), "name", None) == "COMMANDLINE"


@models_app.command("status")
def status_(
    as_json: Json = False,
    wait: Wait = False,
    interval: Interval = 2.0,
    timeout: Timeout = 0.0,
    models_url: ModelsUrl = DEFAULT_MODELS_URL,
    admin_key: AdminKey = None,
    config: Config = None,
) -> None:
    """The active model, the collection beside it (being built, built, or the previous
    model's) and its phase, the copy's progress (done / total documents, rate, ETA), the
    gate's result and the message; then the models Sluice ships."""
    with admin_client(models_url, admin_key) as client:
        status = client.get(STATUS)
        other = status.get("other")
        if wait and other and status.get("phase") in ("building", "ready"):
            code, status, text = follow(
                client, str(other.get("collection")), interval=interval, timeout=timeout
            )
            _finish(status, as_json, code, text)
            return
    if as_json:
        render.raw_json(status)
        return
    _show(status, catalogue=True)


@models_app.command("migrate")
def migrate(
    to: Annotated[
        str,
        typer.Option(
            "--to",
            metavar="NAME",
            show_default=False,
            help="The model to move to (one `sluice models` lists, its files built: "
            "`make model MODEL=NAME`).",
        ),
    ],
    switch: Annotated[
        bool,
        typer.Option(
            "--switch/--no-switch",
            help="Switch as soon as every document is in the new collection (and the gate "
            "passes); --no-switch waits for `sluice models switch`.",
        ),
    ] = True,
    eval_file: Annotated[
        Path | None,
        typer.Option(
            "--eval",
            exists=True,
            dir_okay=False,
            metavar="FILE",
            show_default=False,
            help='The quality gate\'s queries: JSON Lines, one {"query", "relevant": [doc '
            'ids], "tenant"} a line (tenant: `default` when left out). The switch happens only '
            "if the new model's dense nDCG@10 on them reaches --min-ndcg, else the active "
            "model's less --tolerance.",
        ),
    ] = None,
    min_ndcg: Annotated[
        float | None,
        typer.Option(
            "--min-ndcg",
            min=0.0,
            max=1.0,
            metavar="X",
            show_default=False,
            help="With --eval: the nDCG@10 the new model must reach.",
        ),
    ] = None,
    tolerance: Annotated[
        float | None,
        typer.Option(
            "--tolerance",
            min=0.0,
            max=1.0,
            metavar="T",
            show_default=False,
            help="With --eval and without --min-ndcg: how far below the active model's "
            "nDCG@10 the new one may be (the server's default: 0.01).",
        ),
    ] = None,
    wait: Wait = False,
    interval: Interval = 2.0,
    timeout: Timeout = 0.0,
    as_json: Json = False,
    models_url: ModelsUrl = DEFAULT_MODELS_URL,
    admin_key: AdminKey = None,
    config: Config = None,
) -> None:
    """Start a model change: build NAME's collection beside the active one (the documents'
    chunks re-embedded, searches and ingest going on), then switch to it in one step."""
    body: dict[str, Any] = {"to": to, "switch": switch}
    if eval_file is not None:
        gate: dict[str, Any] = {"queries": read_queries(eval_file)}
        if min_ndcg is not None:
            gate["min_ndcg"] = min_ndcg
        if tolerance is not None:
            gate["tolerance"] = tolerance
        body["gate"] = gate
    elif min_ndcg is not None or tolerance is not None:
        raise UsageProblem("--min-ndcg and --tolerance set the gate of --eval FILE: pass one")
    with admin_client(models_url, admin_key) as client:
        started = client.post(f"{STATUS}/migrate", body)
        other = started.get("other") or {}
        if wait:
            code, status, text = follow(
                client, str(other.get("collection")), interval=interval, timeout=timeout
            )
            _finish(status, as_json, code, text)
            return
    if as_json:
        render.raw_json(started)
        return
    _show(started)
    out.print(
        f"building {other.get('model', to)} beside {_active(started)}: follow it with "
        "`sluice models --wait`",
        markup=False,
    )


@models_app.command("switch")
def switch_(
    as_json: Json = False,
    models_url: ModelsUrl = DEFAULT_MODELS_URL,
    admin_key: AdminKey = None,
    config: Config = None,
) -> None:
    """Switch to the new collection now: a change built with --no-switch, or one whose gate
    refused it (the gate, if any, is evaluated again). Exit 1 when the gate refuses it."""
    with admin_client(models_url, admin_key) as client:
        status = client.post(f"{STATUS}/switch", {})
    if status.get("phase") == "previous":
        _finish(status, as_json, OK, f"switched to {_active(status)}")
    else:
        _finish(status, as_json, FAILED, status.get("message") or "the switch did not happen")


@models_app.command("rollback")
def rollback(
    as_json: Json = False,
    models_url: ModelsUrl = DEFAULT_MODELS_URL,
    admin_key: AdminKey = None,
    config: Config = None,
) -> None:
    """Switch back to the previous model (its collection was kept in step since the switch)."""
    with admin_client(models_url, admin_key) as client:
        status = client.post(f"{STATUS}/rollback", {})
    _finish(status, as_json, OK, f"rolled back: {_active(status)} is active again")


@models_app.command("drop-old")
def drop_old(
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    as_json: Json = False,
    models_url: ModelsUrl = DEFAULT_MODELS_URL,
    admin_key: AdminKey = None,
    config: Config = None,
) -> None:
    """Drop the collection beside the active one: the previous model's after a switch (no
    rollback after that), or the new model's before it (which cancels the change). Asks
    first, unless --yes."""
    if not yes and not sys.stdin.isatty():
        raise UsageProblem("drop-old asks for confirmation at a terminal: pass --yes")
    with admin_client(models_url, admin_key) as client:
        before = client.get(STATUS)
        other = before.get("other")
        if not other:
            raise CliError("nothing to drop: there is only the active collection")
        what = _dropped(before)
        if not yes:
            typer.confirm(f"Drop {what}?", abort=True)
        status = client.post(f"{STATUS}/drop-old", {})
    if as_json:
        render.raw_json(status)
        return
    out.print(f"dropped {what}", markup=False)


def _active(status: Mapping[str, Any]) -> str:
    return str((status.get("active") or {}).get("model", "?"))


def _dropped(status: Mapping[str, Any]) -> str:
    """What drop-old would drop, in words."""
    other = status.get("other") or {}
    where = f"{other.get('model', '?')}'s collection {other.get('collection', '?')}"
    if status.get("phase") == "previous":
        return f"the previous model {where} (no rollback to it after this)"
    state = render.PHASES.get(str(status.get("phase")), "beside the active one")
    return f"the new model {where}, {state} (this cancels the model change)"


# -- following a change


def outcome(status: Mapping[str, Any], collection: str) -> tuple[int, str] | None:
    """How a change to `collection` ended, as an exit code and a sentence; None while it goes
    on."""
    active = status.get("active") or {}
    other = status.get("other")
    if active.get("collection") == collection:
        previous = f"; {other['model']} is kept for `sluice models rollback`" if other else ""
        return OK, f"switched to {active.get('model')}{previous}"
    if not other or other.get("collection") != collection:
        return FAILED, "the change stopped: the new collection was dropped (`sluice models`)"
    if status.get("phase") == "ready" and not status.get("switch_when_ready"):
        if status.get("message"):
            return FAILED, str(status["message"])
        return OK, (
            f"{other.get('model')} is built (every document is in): switch to it with "
            "`sluice models switch`"
        )
    return None


def follow(
    client: Client,
    collection: str,
    *,
    interval: float,
    timeout: float,
    sleep: Any = time.sleep,
) -> tuple[int, dict[str, Any], str]:
    """Read the status every `interval` s, showing the progress, until the change to
    `collection` ends (`outcome`) or `timeout` s pass (0: never); the exit code, the last
    status and what happened."""
    started = time.monotonic()
    try:
        with watcher(err) as shown:
            while True:
                status = client.get(STATUS)
                shown.update(status, collection)
                ended = outcome(status, collection)
                if ended is not None:
                    return ended[0], status, ended[1]
                if timeout and time.monotonic() - started >= timeout:
                    return FAILED, status, (
                        f"still {status.get('phase')} after {timeout:g} s; the change goes on "
                        "(`sluice models --wait` follows it again)"
                    )  # fmt: skip
                sleep(interval)
    except KeyboardInterrupt:
        err.print("stopped following; the change goes on (`sluice models` shows it)")
        raise typer.Exit(130) from None


class Watcher:
    """Shows a followed change's progress (subclasses decide how)."""

    def __init__(self, console: Console) -> None:
        self.console = console

    def __enter__(self) -> Watcher:
        return self

    def __exit__(
        self,
        kind: type[BaseException] | None,
        error: BaseException | None,
        trace: TracebackType | None,
    ) -> None:
        self.stop()

    def update(self, status: Mapping[str, Any], collection: str) -> None:
        """A fresh status of the change to `collection`."""

    def stop(self) -> None:
        """The change is over, or no longer followed."""


def _label(status: Mapping[str, Any]) -> str:
    other = status.get("other") or {}
    return f"{status.get('phase')} {other.get('model', '')}".strip()


class LineWatcher(Watcher):
    """Without a terminal: a line at each change of phase, and every LINE_EVERY s at most
    while the copy goes on."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self._phase: object = None
        self._text = ""
        self._at = 0.0

    def update(self, status: Mapping[str, Any], collection: str) -> None:
        other = status.get("other") or {}
        progress = status.get("progress")
        if other.get("collection") != collection or not isinstance(progress, Mapping):
            return
        text = f"{_label(status)}: {render.progress_text(progress)}"
        now = time.monotonic()
        phase = status.get("phase")
        if phase != self._phase or (text != self._text and now - self._at >= LINE_EVERY):
            self.console.print(text, markup=False, highlight=False, soft_wrap=True)
            self._phase, self._text, self._at = phase, text, now


class BarWatcher(Watcher):
    """On a terminal: a rich progress bar of documents copied, with the server's rate and
    ETA."""

    def __init__(self, console: Console) -> None:
        super().__init__(console)
        self.progress = Progress(
            TextColumn("[bold]{task.description}"),
            BarColumn(),
            TextColumn("{task.fields[line]}"),
            console=console,
        )
        self._task: TaskID | None = None

    def update(self, status: Mapping[str, Any], collection: str) -> None:
        other = status.get("other") or {}
        progress = status.get("progress")
        if other.get("collection") != collection or not isinstance(progress, Mapping):
            return
        line = render.progress_text(progress)
        total = progress.get("total") or None
        if self._task is None:
            self.progress.start()
            self._task = self.progress.add_task(_label(status), total=total, line=line)
        self.progress.update(
            self._task,
            description=_label(status),
            total=total,
            completed=progress.get("done", 0),
            line=line,
        )

    def stop(self) -> None:
        self.progress.stop()


def watcher(console: Console) -> Watcher:
    """A progress bar when the console is a terminal, else plain lines."""
    return BarWatcher(console) if console.is_terminal else LineWatcher(console)
