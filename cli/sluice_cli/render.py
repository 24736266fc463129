"""Answers of the APIs as people read them: tables of hits (with their citations), documents
and dead letters, and one document's record."""

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
