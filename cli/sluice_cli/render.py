"""Answers of the APIs as people read them: tables of hits (with their citations), documents
and dead letters, one document's record, and the state of a model change."""

from __future__ import annotations

import json
import sys
from collections.abc import Mapping, Sequence
from typing import Any

from rich import box
from rich.table import Table
from rich.text import Text

SNIPPET = 240  # characters of a hit's text shown
MARK = "bold underline"  # the matched words: visible without colour too (NO_COLOR, a pager)


def raw_json(value: Any) -> None:
    """Print an answer as JSON (indented), to stdout, without any markup."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def pages(hit: Mapping[str, Any]) -> str:
    """`3`, or `3-5` when the hit spans pages; empty when it has no page."""
    page, end = hit.get("page"), hit.get("page_end")
    if page is None:
        return ""
    return f"{page}-{end}" if end is not None and end != page else str(page)


def _flatten(text: str) -> tuple[str, list[int]]:
    """The text on one line (whitespace runs as one space, none at either end), and where each
    of its code points went in it: `where[i]` for the i-th, `where[len(text)]` for the end."""
    out: list[str] = []
    where: list[int] = []
    for char in text:
        where.append(len(out))
        if not char.isspace():
            out.append(char)
        elif out and out[-1] != " ":
            out.append(" ")
    where.append(len(out))
    if out and out[-1] == " ":
        out.pop()
    return "".join(out), [min(n, len(out)) for n in where]


def _ranges(value: object, length: int) -> list[tuple[int, int]]:
    """searchapi's `[{"start", "end"}]` (code points, which Python's str counts too) as sorted
    (start, end) pairs within `length`; anything malformed left out."""
    if not isinstance(value, list):
        return []
    ranges = []
    for item in value:
        if not isinstance(item, Mapping):
            continue
        start, end = item.get("start"), item.get("end")
        if isinstance(start, int) and isinstance(end, int) and not isinstance(start, bool):
            start, end = max(0, start), min(length, end)
            if start < end:
                ranges.append((start, end))
    return sorted(ranges)


def marked(
    text: str,
    highlights: object,
    *,
    before: bool = False,
    after: bool = False,
    limit: int = SNIPPET,
) -> Text:
    """`text` on one line, cut to `limit` characters, with the `highlights` (code-point ranges
    of `text`) in the MARK style, and `…` where the text goes on `before` or `after` it. A
    rich Text with styled spans: nothing in the text is read as markup (`[bold]` stays text)."""
    flat, where = _flatten(text)
    cut = len(flat) > limit
    if cut:
        flat = flat[: limit - 1].rstrip()
    shown = Text("…" if before else "")
    offset = len(shown)
    shown.append(flat)
    for start, end in _ranges(highlights, len(text)):
        start, end = min(where[start], len(flat)), min(where[end], len(flat))
        if start < end:
            shown.stylize(MARK, offset + start, offset + end)
    if cut or after:
        shown.append("…")
    return shown


def hit_text(hit: Mapping[str, Any]) -> Text:
    """A hit's text column: searchapi's snippet with its highlights when it sent one, else the
    chunk's text from its start (highlighted if the server sent highlights but no snippet);
    then, for a hit grouped by document, how many more of its passages matched."""
    text = str(hit.get("text") or "")
    snippet = hit.get("snippet")
    if isinstance(snippet, Mapping) and isinstance(snippet.get("text"), str):
        start, end = snippet.get("start"), snippet.get("end")
        start = start if isinstance(start, int) else 0
        end = end if isinstance(end, int) else len(text)
        shown = marked(
            snippet["text"],
            snippet.get("highlights"),
            before=bool(text[:start].strip()),
            after=bool(text[end:].strip()),
        )
    else:
        shown = marked(text, hit.get("highlights"))
    more = hit.get("more_chunks")
    if isinstance(more, int) and not isinstance(more, bool) and more > 0:
        noun = "passage" if more == 1 else "passages"
        shown.append(f"\n+{more} more {noun} in this document", style="dim")
    return shown


def hits_table(hits: Sequence[Mapping[str, Any]]) -> Table:
    """Search hits, best first: what to cite (title or id, page, section), score, text."""
    table = Table(box=box.SIMPLE_HEAD, show_lines=False, expand=True)
    table.add_column("#", justify="right", no_wrap=True)
    table.add_column("document", max_width=30, overflow="fold")
    table.add_column("page", no_wrap=True)
    table.add_column("section", max_width=20)
    table.add_column("score", justify="right", no_wrap=True)
    table.add_column("text", ratio=1)
    for rank, hit in enumerate(hits, 1):
        doc_id = str(hit.get("document_id", ""))
        title = str(hit.get("title") or "")
        cited = Text(title or doc_id, style="bold")
        if title and title != doc_id:
            cited.append(f"\n{doc_id}", style="dim")
        score = hit.get("score")
        table.add_row(
            str(rank),
            cited,
            pages(hit),
            Text(str(hit.get("section") or "")),
            f"{score:.4f}" if isinstance(score, int | float) else "",
            hit_text(hit),
        )
    return table


def documents_table(records: Sequence[Mapping[str, Any]]) -> Table:
    """Document records: id, status, chunks, last change, error."""
    table = Table(box=box.SIMPLE_HEAD, expand=True)
    table.add_column("id", max_width=40, overflow="fold")
    table.add_column("status", no_wrap=True)
    table.add_column("chunks", justify="right", no_wrap=True)
    table.add_column("updated (UTC)", no_wrap=True)
    table.add_column("error", ratio=1, overflow="fold")
    for record in records:
        table.add_row(
            Text(str(record.get("id", ""))),
            Text(str(record.get("status", "")), style=_status_style(record.get("status"))),
            str(record.get("chunks", "")),
            _when(record.get("updated_at")),
            Text(str(record.get("error") or "")),
        )
    return table


def _when(stamp: object) -> str:
    """An ISO 8601 UTC time to the second: `2025-05-02 09:14:04`."""
    text = str(stamp or "")
    return text[:19].replace("T", " ") if len(text) >= 19 else text


def record_table(record: Mapping[str, Any]) -> Table:
    """One record, a field a row."""
    table = Table(box=None, show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    for key, value in record.items():
        style = _status_style(value) if key == "status" else ""
        shown = "" if value is None else str(value)
        table.add_row(key, Text(shown, style=style))
    return table


def dead_letters_table(entries: Sequence[Mapping[str, Any]]) -> Table:
    """Dead letters: the job to replay (its queue, when it failed), and its document (tenant,
    why it failed)."""
    table = Table(box=box.SIMPLE_HEAD, expand=True, show_lines=True)
    table.add_column("job · queue · failed at (UTC)", no_wrap=True)  # to copy into `dlq replay`
    table.add_column("document · tenant · error", ratio=1, overflow="fold")
    for entry in entries:
        job = Text(str(entry.get("job_id", "")), style="bold")
        job.append(f"\n{entry.get('queue', '')}\n{_when(entry.get('failed_at'))}", style="dim")
        document = Text(str(entry.get("document_id", "")))
        document.append(f" · {entry.get('tenant', '')}", style="dim")
        if entry.get("error"):
            document.append(f"\n{entry['error']}", style="red")
        table.add_row(job, document)
    return table


def _status_style(status: object) -> str:
    return {"indexed": "green", "failed": "red", "deleted": "dim"}.get(str(status), "yellow")


# -- `sluice models`

PHASES = {
    "building": "being built",
    "ready": "built",
    "previous": "previous model",
}


def served_text(served: Mapping[str, Any]) -> str:
    """A collection and its model: `e5-small-v2 (384 dims, version …) · collection C`."""
    embedder = served.get("embedder") or {}
    model = served.get("model") or embedder.get("name", "?")
    details = []
    if embedder.get("dim") is not None:
        details.append(f"{embedder['dim']} dims")
    if embedder.get("version"):
        details.append(f"version {embedder['version']}")
    shown = f"{model} ({', '.join(details)})" if details else str(model)
    return f"{shown} · collection {served.get('collection', '?')}"


def duration(seconds: object) -> str:
    """Seconds as `h:mm:ss`; `?` when unknown."""
    if not isinstance(seconds, int | float) or isinstance(seconds, bool) or seconds < 0:
        return "?"
    whole = round(seconds)
    return f"{whole // 3600}:{whole // 60 % 60:02}:{whole % 60:02}"


def progress_text(progress: Mapping[str, Any]) -> str:
    """`done / total documents, N docs/s, ETA h:mm:ss` (`total+` while the documents are still
    being listed; ETA `?` until there is a rate)."""
    done, total = progress.get("done", 0), progress.get("total", 0)
    listed = progress.get("listed", True)
    rate = progress.get("rate_per_second")
    rate_text = f"{rate:.1f}" if isinstance(rate, int | float) else "?"
    pending = progress.get("pending")
    eta = progress.get("eta_seconds")
    if eta is None and listed and pending == 0:
        eta = 0
    more = "" if listed else "+ (still listing)"
    return f"{done} / {total}{more} documents, {rate_text} docs/s, ETA {duration(eta)}"


def gate_text(gate: Mapping[str, Any]) -> str:
    """A gate's result: `passed: nDCG@10 0.8123 new, 0.8040 old, at least 0.7940 needed`."""

    def score(key: str) -> str:
        value = gate.get(key)
        return f"{value:.4f}" if isinstance(value, int | float) else "?"

    verdict = "passed" if gate.get("passed") else "refused"
    return (
        f"{verdict}: nDCG@10 {score('new')} with the new model, {score('old')} with the "
        f"active one, at least {score('threshold')} needed"
    )


def models_status(status: Mapping[str, Any]) -> Table:
    """The state of the models: the active one, the other collection beside it and its phase,
    the copy's progress, when it switches, the gate's result, the message."""
    table = Table(box=None, show_header=False)
    table.add_column(style="bold", no_wrap=True)
    table.add_column(overflow="fold")
    active = status.get("active") or {}
    table.add_row("active", Text(served_text(active), style="green"))
    other = status.get("other")
    phase = status.get("phase")
    if not other:
        table.add_row("change", Text("none (sluice models migrate --to NAME starts one)"))
    else:
        label = "previous" if phase == "previous" else "new"
        table.add_row(label, Text(served_text(other)))
        table.add_row("phase", Text(str(phase), style="yellow" if phase != "previous" else ""))
        progress = status.get("progress")
        if isinstance(progress, Mapping):
            if phase == "previous":
                behind = progress.get("pending", 0)
                text = f"kept in step with the active model: {behind} documents to copy"
                table.add_row("in step", Text(text))
            else:
                table.add_row("progress", Text(progress_text(progress)))
        if phase in ("building", "ready"):
            when = (
                "as soon as every document is in (and the gate, if any, passes)"
                if status.get("switch_when_ready")
                else "waits for `sluice models switch`"
            )
            table.add_row("switch", Text(when))
        else:
            table.add_row(
                "next",
                Text("`sluice models rollback` goes back to it; `sluice models drop-old` drops it"),
            )
    gate = status.get("gate")
    if isinstance(gate, Mapping):
        table.add_row("gate", Text(gate_text(gate), style="green" if gate.get("passed") else "red"))
    if status.get("message"):
        table.add_row("message", Text(str(status["message"]), style="yellow"))
    return table


def models_table(models: Sequence[Any], active: str | None) -> Table:
    """The models Sluice ships (`hashing` a bare name): name, dimensions, description; the
    active one marked."""
    table = Table(box=box.SIMPLE_HEAD, expand=True)
    table.add_column("model", no_wrap=True)
    table.add_column("dims", justify="right", no_wrap=True)
    table.add_column("description", ratio=1, overflow="fold")
    for model in models:
        card = model if isinstance(model, Mapping) else {"name": str(model)}
        name = str(card.get("name", ""))
        shown = Text(name, style="bold green" if name == active else "")
        if name == active:
            shown.append(" (active)", style="green")
        dim = card.get("dim")
        table.add_row(
            shown, "" if dim is None else str(dim), Text(str(card.get("description") or ""))
        )
    return table
