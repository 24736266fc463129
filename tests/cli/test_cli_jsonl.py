"""JSON-lines files: documents and bad lines with their numbers, and the batches."""

from __future__ import annotations

import json
from pathlib import Path

from sluice_cli.jsonl import BadLine, Line, batches, count, read


def test_lines_are_documents_or_reasons_with_their_numbers(tmp_path: Path) -> None:
    path = tmp_path / "docs.jsonl"
    path.write_bytes(
        b'{"id": "a", "text": "first"}\n'
        b"\n"
        b"   \n"
        b"{not json}\n"
        b"[1, 2]\n"
        b'{"id": "b", "text": "caf\xe9"}\n'
        b'{"id": "a", "text": "again"}\n'
        b'{"text": "no id", "title": "T", "metadata": {"k": 1}}'  # no final newline
    )
    items = list(read(path))
    assert [(type(i).__name__, i.number) for i in items] == [
        ("Line", 1),
        ("BadLine", 4),
        ("BadLine", 5),
        ("BadLine", 6),
        ("BadLine", 7),
        ("Line", 8),
    ]
    bad = {i.number: i.reason for i in items if isinstance(i, BadLine)}
    assert bad[4].startswith("not JSON: Expecting property name")
    assert bad[5] == "not a JSON object but list"
    assert bad[6] == "not UTF-8"
    assert bad[7] == "id 'a' is also line 1's"
    last = items[-1]
    assert isinstance(last, Line) and last.document["metadata"] == {"k": 1}
    assert count(path) == 6


def test_batches_hold_at_most_64_documents_and_pass_bad_lines_on(tmp_path: Path) -> None:
    lines = [Line(n, {"id": f"d{n}", "text": "x"}, 10) for n in range(1, 151)]
    bad = BadLine(200, "not JSON", 3)
    grouped = list(batches([*lines[:100], bad, *lines[100:]]))
    sizes = [len(g) if isinstance(g, list) else "bad" for g in grouped]
    assert sizes == [64, "bad", 64, 22]
    assert [line.number for g in grouped if isinstance(g, list) for line in g] == list(
        range(1, 151)
    )


def test_batches_are_bounded_in_bytes_but_a_large_line_goes_alone() -> None:
    lines = [Line(n, {"text": "x"}, size) for n, size in enumerate([40, 40, 40, 500, 10], 1)]
    grouped = list(batches(lines, max_documents=64, max_bytes=100))
    assert [[line.number for line in g] for g in grouped if isinstance(g, list)] == [
        [1, 2],
        [3],
        [4],
        [5],
    ]


def test_a_file_written_by_json_dumps_reads_back(tmp_path: Path) -> None:
    documents = [{"id": f"doc-{n}", "text": f"text {n} ünïcode"} for n in range(5)]
    path = tmp_path / "out.jsonl"
    path.write_text("".join(json.dumps(d, ensure_ascii=False) + "\n" for d in documents))
    assert [i.document for i in read(path) if isinstance(i, Line)] == documents
