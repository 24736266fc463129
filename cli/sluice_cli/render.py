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


def raw_json(value: Any) -> None:
    """Print an answer as JSON (indented), to stdout, without any markup."""
    sys.stdout.write(json.dumps(value, indent=2, ensure_ascii=False) + "\n")


def pages(hit: Mapping[str, Any]) -> str:
    """`3`, or `3-5` when the hit spans pages; empty when it has no page."""
    page, end = hit.get("page"), hit.get("page_end")
    if page is None:
        return ""
    return f"{page}-{end}" if end is not None and end != page else str(page)


def snippet(text: str, limit: int = SNIPPET) -> str:
    """The text on one line, cut to `limit` characters."""
    flat = " ".join(text.split())
    return flat if len(flat) <= limit else flat[: limit - 1].rstrip() + "…"


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
            Text(snippet(str(hit.get("text", "")))),
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
