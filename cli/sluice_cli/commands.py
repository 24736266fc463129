"""The `sluice` command's sub-commands over searchapi's HTTP API (the Typer app); `sluice
models` (the models function's admin API) is in `models`."""

from __future__ import annotations

import sys
import time
from enum import StrEnum
from pathlib import Path
from typing import Annotated, Any

import typer
from rich.console import Console

from sluice_cli import __version__, render
from sluice_cli.client import Client
from sluice_cli.config import DEFAULT_URL
from sluice_cli.errors import CliError, UsageProblem
from sluice_cli.ingest import DOCUMENTS, IngestRun, Options, status_path
from sluice_cli.models import models_app
from sluice_cli.options import ApiKey, Config, Json, Tenant, Url
from sluice_cli.pairs import parse_pairs, search_filter
from sluice_cli.progress import reporter, summary
from sluice_cli.sources import Filters, plan

EPILOG = """\
**Exit codes**: 0 ok · 1 some document or request failed · 2 usage or configuration \
error · 3 the server could not be reached, or answered 5xx after retries · 4 authentication \
refused (401/403).

**Server-side commands** (need the server library, sluice-shared, installed in \
Sluice's images): `sluice serve`, `sluice worker`, \
`sluice exporter`, `sluice documents reindex` and \
`sluice dlq --direct list|replay` (Redis directly, for an operator inside the \
cluster); each has its own --help.
"""

app = typer.Typer(
    name="sluice",
    help="Ingest files into Sluice, search them, follow and delete documents, replay dead "
    "letters: over searchapi's HTTP API, against a laptop stack or a cluster alike.",
    epilog=EPILOG,
    no_args_is_help=True,
    rich_markup_mode="markdown",
    pretty_exceptions_show_locals=False,  # locals hold the API key
    context_settings={"help_option_names": ["-h", "--help"]},
)
dlq_app = typer.Typer(
    help="The dead letters: deliveries that failed for good. `--direct` reads "
    "Redis instead of the API (needs the server library).",
    no_args_is_help=True,
    rich_markup_mode="markdown",
)
app.add_typer(dlq_app, name="dlq")
app.add_typer(models_app, name="models")

out = Console(highlight=False)
err = Console(stderr=True, highlight=False)


class Mode(StrEnum):
    """searchapi's search modes."""

    hybrid = "hybrid"
    dense = "dense"
    text = "text"


class GroupBy(StrEnum):
    """What searchapi can group hits by."""

    document = "document"


class Status(StrEnum):
    """A document record's statuses."""

    accepted = "accepted"
    transforming = "transforming"
    embedded = "embedded"
    indexed = "indexed"
    failed = "failed"
    deleted = "deleted"


def _version(value: bool) -> None:
    if value:
        typer.echo(f"sluice {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: Annotated[
        bool,
        typer.Option("--version", callback=_version, is_eager=True, help="Print the version."),
    ] = False,
) -> None:
    """Ingest files into Sluice, search them, follow and delete documents, replay dead letters:
    over searchapi's HTTP API, against a laptop stack or a cluster alike."""


def _tenant(tenant: str | None) -> dict[str, str]:
    return {"tenant": tenant} if tenant else {}


@app.command()
def ingest(
    paths: Annotated[
        list[Path],
        typer.Argument(
            exists=True,
            metavar="PATH",
            show_default=False,
            help="Files and folders. A folder gives its files (with --recursive those of its "
            "subfolders too); a file named is sent whatever --include/--exclude say.",
        ),
    ],
    recursive: Annotated[
        bool, typer.Option("--recursive", "-r", help="Enter subfolders of the folders named.")
    ] = False,
    include: Annotated[
        list[str] | None,
        typer.Option(
            "--include",
            metavar="GLOB",
            help="Only files in folders matching GLOB (repeatable; a GLOB without / matches "
            "the file name, one with / the path below the PATH).",
        ),
    ] = None,
    exclude: Annotated[
        list[str] | None,
        typer.Option(
            "--exclude",
            metavar="GLOB",
            help="Leave out files and folders matching GLOB (repeatable; as --include).",
        ),
    ] = None,
    tenant: Tenant = None,
    metadata: Annotated[
        list[str] | None,
        typer.Option(
            "--metadata",
            "-m",
            metavar="KEY=VALUE",
            help="Metadata of every document (repeatable; numbers and true/false as JSON, "
            "else text; a key twice: a list).",
        ),
    ] = None,
    concurrency: Annotated[
        int, typer.Option("--concurrency", "-c", min=1, max=64, help="Requests at once.")
    ] = 4,
    wait: Annotated[
        bool,
        typer.Option("--wait", "-w", help="Follow each document until indexed or failed."),
    ] = False,
    timeout: Annotated[
        float,
        typer.Option(
            min=0.0, help="With --wait: seconds to wait, once all is sent, for the indexing."
        ),
    ] = 600.0,
    verbose: Annotated[
        bool, typer.Option("--verbose", "-v", help="List skipped files and every document.")
    ] = False,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
    config: Config = None,
) -> None:
    """Send files and folders to ingest.

    Sent: .pdf, .html/.htm/.xhtml, .md/.markdown, .txt/.text, .docx (one request each, the raw
    bytes) and .jsonl (one JSON document a line: {"id", "text", "title", "metadata"}, in
    batches of 64).
    Other files in folders are skipped. A file's document id is its path below the PATH it
    came from, each character other than letters, digits and ._~:@+- replaced by -. Running
    again is safe: what the server already has is answered 'unchanged'.
    """
    work = plan(
        paths,
        recursive=recursive,
        filters=Filters(tuple(include or ()), tuple(exclude or ())),
    )
    options = Options(
        tenant=tenant,
        metadata=parse_pairs(metadata or [], "--metadata"),
        concurrency=concurrency,
        wait=wait,
        timeout=timeout,
    )
    started = time.monotonic()
    with (
        Client(url, api_key, connections=concurrency) as client,
        reporter(err, verbose=verbose) as shown,
    ):
        run = IngestRun(client, shown, options)
        run.run(work)
    out.print(summary(shown.tally, time.monotonic() - started, waited=wait), markup=False)
    if run.error is not None:
        raise run.error
    if run.exit_code:
        raise typer.Exit(run.exit_code)


@app.command()
def search(
    query: Annotated[
        str, typer.Argument(metavar="QUERY", help="What to look for.", show_default=False)
    ],
    mode: Annotated[Mode, typer.Option("--mode", help="Kind of search.")] = Mode.hybrid,
    k: Annotated[int, typer.Option("--k", "-k", min=1, max=100, help="Hits to return.")] = 10,
    group_by: Annotated[
        GroupBy | None,
        typer.Option(
            "--group-by",
            help="`document`: at most one hit per document, its best chunk, with how many "
            "more of its chunks matched.",
            show_default=False,
        ),
    ] = None,
    filters: Annotated[
        list[str] | None,
        typer.Option(
            "--filter",
            "-f",
            metavar="KEY=VALUE",
            help="Only chunks with KEY=VALUE (repeatable: all must hold; a key twice: any of "
            "its values). document_id, page and section are the chunk's own; any other key "
            "is a metadata key (numbers and true/false as JSON, else text).",
        ),
    ] = None,
    as_json: Json = False,
    tenant: Tenant = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
    config: Config = None,
) -> None:
    """Search the tenant's documents: hits with what to cite (title, page, section)."""
    body: dict[str, Any] = {"query": query, "k": k, "mode": mode.value, **_tenant(tenant)}
    condition = search_filter(filters or [])
    if condition:
        body["filter"] = condition
    if group_by is not None:  # only when asked: an older searchapi never sees the field
        body["group_by"] = group_by.value
    with Client(url, api_key) as client:
        answer = client.post("/v1/search", body)
    if as_json:
        render.raw_json(answer)
        return
    hits = answer.get("hits", [])
    if hits:
        out.print(render.hits_table(hits))
    took = answer.get("took_ms")
    took_text = f", {took:.0f} ms" if isinstance(took, int | float) else ""
    grouped = ", one per document" if group_by is not None else ""
    shown_mode = answer.get("mode", mode.value)
    out.print(f"{len(hits)} hits ({shown_mode}{grouped}{took_text})", markup=False)


@app.command()
def status(
    doc_id: Annotated[str, typer.Argument(metavar="ID", help="The document id.")],
    as_json: Json = False,
    tenant: Tenant = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
    config: Config = None,
) -> None:
    """Show a document's record: its status in the pipeline, version, chunks, error."""
    with Client(url, api_key) as client:
        record = client.get(status_path(doc_id), _tenant(tenant))
    if as_json:
        render.raw_json(record)
    else:
        out.print(render.record_table(record))


@app.command()
def delete(
    doc_id: Annotated[str, typer.Argument(metavar="ID", help="The document id.")],
    yes: Annotated[bool, typer.Option("--yes", "-y", help="Do not ask for confirmation.")] = False,
    tenant: Tenant = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
    config: Config = None,
) -> None:
    """Delete a document and its chunks (asks first, unless --yes)."""
    if not yes:
        if not sys.stdin.isatty():
            raise UsageProblem("delete asks for confirmation at a terminal: pass --yes")
        of = f" of tenant {tenant}" if tenant else ""
        typer.confirm(f"Delete document {doc_id}{of} and its chunks?", abort=True)
    with Client(url, api_key) as client:
        answer = client.delete(status_path(doc_id), _tenant(tenant))
    out.print(f"deleted {answer.get('id', doc_id)} (its chunks are being removed)", markup=False)


@app.command()
def documents(
    status: Annotated[
        Status | None, typer.Option("--status", help="Only documents with this status.")
    ] = None,
    prefix: Annotated[
        str | None, typer.Option("--prefix", help="Only ids starting with this text.")
    ] = None,
    limit: Annotated[
        int, typer.Option("--limit", "-n", min=1, help="Show at most this many documents.")
    ] = 20,
    every: Annotated[bool, typer.Option("--all", help="Show every one (no --limit).")] = False,
    as_json: Json = False,
    tenant: Tenant = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
    config: Config = None,
) -> None:
    """List the tenant's documents in id order (page after page as needed)."""
    params: dict[str, str | int] = {**_tenant(tenant)}
    if status:
        params["status"] = status.value
    if prefix:
        params["prefix"] = prefix
    records: list[Any] = []
    cursor: str | None = None
    with Client(url, api_key) as client:
        while True:
            want = 100 if every else min(100, limit - len(records))
            page = client.get(
                DOCUMENTS, {**params, "limit": want, **({"cursor": cursor} if cursor else {})}
            )
            records += page["documents"]
            cursor = page.get("next_cursor")
            if cursor is None or (not every and len(records) >= limit):
                break
    records = records if every else records[:limit]
    if as_json:
        render.raw_json({"documents": records, "total": page.get("total"), "next_cursor": cursor})
        return
    if records:
        out.print(render.documents_table(records))
    more = " (more: --all, or a larger --limit)" if cursor else ""
    out.print(f"{len(records)} of {page.get('total', len(records))} documents{more}")


@dlq_app.command("list")
def dlq_list(
    as_json: Json = False,
    tenant: Tenant = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
    config: Config = None,
) -> None:
    """List the dead letters (without API keys and --tenant: every tenant's)."""
    with Client(url, api_key) as client:
        answer = client.get("/v1/ingest/dead-letters", _tenant(tenant))
    if as_json:
        render.raw_json(answer)
        return
    entries = answer.get("dead_letters", [])
    if entries:
        out.print(render.dead_letters_table(entries))
    out.print(f"{len(entries)} dead letters", markup=False)


@dlq_app.command("replay")
def dlq_replay(
    job_ids: Annotated[
        list[str] | None,
        typer.Argument(metavar="JOB_ID", help="Jobs to deliver again (see dlq list)."),
    ] = None,
    every: Annotated[bool, typer.Option("--all", help="Replay every dead letter.")] = False,
    tenant: Tenant = None,
    url: Url = DEFAULT_URL,
    api_key: ApiKey = None,
    config: Config = None,
) -> None:
    """Deliver dead letters again, along the route they failed on."""
    if every == bool(job_ids):
        raise UsageProblem("dlq replay: name job ids or pass --all (not both)")
    body = {"all": True} if every else {"job_ids": job_ids}
    with Client(url, api_key) as client:
        answer = client.post("/v1/ingest/dead-letters/replay", body, _tenant(tenant))
    replayed = answer.get("replayed", 0)
    out.print(f"replayed {replayed} jobs", markup=False)
    if job_ids and replayed < len(job_ids):
        err.print(
            f"{len(job_ids) - replayed} of the jobs named were not replayed: unknown, already "
            "replayed, or another tenant's",
            markup=False,
        )


def run(args: list[str]) -> int:
    """Run a command of the app; its exit code."""
    try:
        app(args=args, prog_name="sluice")
    except CliError as exc:
        typer.echo(f"sluice: {exc}", err=True)
        return exc.exit_code
    return 0
