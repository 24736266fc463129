"""JSON-lines files: one document a line (`{"id", "text", "title", "metadata"}`), read lazily
and grouped into the batches sent to `POST /v1/ingest/documents`."""

from __future__ import annotations

import json
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

BATCH_DOCUMENTS = 64
BATCH_BYTES = 8 * 1024 * 1024  # half the API's 16 MiB body limit: room for JSON's escapes
MAX_LINE_BYTES = 16 * 1024 * 1024  # the API's body limit: a longer line is not sent


@dataclass(frozen=True)
class Line:
    """A line that holds a JSON object: a document to send."""

    number: int
    document: dict[str, Any]
    size: int


@dataclass(frozen=True)
class BadLine:
    """A line that cannot be sent, and why."""

    number: int
    reason: str
    size: int


def read(path: Path) -> Iterator[Line | BadLine]:
    """Each non-blank line of the file, as a document or as the reason it is none. A line
    naming an id an earlier line of the file named is refused (the batch would be)."""
    seen: dict[str, int] = {}
    with path.open("rb") as lines:
        for number, raw in enumerate(lines, 1):
            if not raw.strip():
                continue
            if len(raw) > MAX_LINE_BYTES:
                yield BadLine(number, "longer than the 16 MiB a request may hold", len(raw))
                continue
            parsed = parse(raw)
            if isinstance(parsed, str):
                yield BadLine(number, parsed, len(raw))
                continue
            doc_id = parsed.get("id")
            if isinstance(doc_id, str) and doc_id in seen:
                yield BadLine(number, f"id {doc_id!r} is also line {seen[doc_id]}'s", len(raw))
                continue
            if isinstance(doc_id, str):
                seen[doc_id] = number
            yield Line(number, parsed, len(raw))


def parse(raw: bytes) -> dict[str, Any] | str:
    """One line's JSON object, or why it is not one."""
    try:
        value = json.loads(raw.decode("utf-8"))
    except UnicodeDecodeError:
        return "not UTF-8"
    except json.JSONDecodeError as exc:
        return f"not JSON: {exc.msg} at column {exc.colno}"
    if not isinstance(value, dict):
        return f"not a JSON object but {type(value).__name__}"
    return value


def count(path: Path) -> int:
    """How many documents (non-blank lines) the file holds, for the progress bar."""
    with path.open("rb") as lines:
        return sum(1 for raw in lines if raw.strip())


def batches(
    items: Iterable[Line | BadLine],
    max_documents: int = BATCH_DOCUMENTS,
    max_bytes: int = BATCH_BYTES,
) -> Iterator[list[Line] | BadLine]:
    """Good lines in batches of at most `max_documents` and (but for a single line)
    `max_bytes`; each bad line on its own, as it comes."""
    batch: list[Line] = []
    size = 0
    for item in items:
        if isinstance(item, BadLine):
            yield item
            continue
        if batch and (len(batch) >= max_documents or size + item.size > max_bytes):
            yield batch
            batch, size = [], 0
        batch.append(item)
        size += item.size
    if batch:
        yield batch
