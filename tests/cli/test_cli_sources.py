"""What `sluice ingest` sends: document ids, the walk of folders, --include and --exclude."""

from __future__ import annotations

from pathlib import Path

import pytest
from sluice_cli.sources import Filters, document_id, plan


@pytest.mark.parametrize(
    ("relative", "expected"),
    [
        ("docs/Install Guide.pdf", "docs-Install-Guide.pdf"),
        ("notes.md", "notes.md"),
        ("a/b/c~d:e@f+g-h_i.txt", "a-b-c~d:e@f+g-h_i.txt"),
        ("Überblick.md", "f-berblick.md"),
        ("日本.txt", "f--.txt"),
        (".hidden.txt", "f.hidden.txt"),
        ("-dash.txt", "f-dash.txt"),
        ("x" * 300 + ".txt", "x" * 256),
    ],
)
def test_document_ids(relative: str, expected: str) -> None:
    assert document_id(relative) == expected


def _tree(root: Path, files: list[str]) -> Path:
    for name in files:
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(f"text of {name}")
    return root


def _ids(root: Path, **kwargs: object) -> list[str | None]:
    return [s.doc_id for s in plan([root], **kwargs).sources]  # type: ignore[arg-type]


FILES = [
    "a.txt",
    "b.md",
    "c.png",
    "data.jsonl",
    "sub/d.markdown",
    "sub/deeper/e.txt",
    "sub/skip.bin",
    "node_modules/f.md",
    ".git/g.txt",
    ".hidden.md",
]


def test_a_folder_without_recursive_gives_its_direct_files(tmp_path: Path) -> None:
    root = _tree(tmp_path / "docs", FILES)
    result = plan([root], recursive=False, filters=Filters())
    assert [s.doc_id for s in result.sources] == ["a.txt", "b.md", None]
    assert [s.media_type for s in result.sources] == ["text/plain", "text/markdown", None]
    assert [name for name, _ in result.skipped] == [str(root / "c.png")]
    assert result.folders_not_descended == 2  # sub, node_modules (not .git)


def test_recursive_walks_every_level_but_hidden_entries(tmp_path: Path) -> None:
    root = _tree(tmp_path / "docs", FILES)
    result = plan([root], recursive=True, filters=Filters())
    ids = [s.doc_id for s in result.sources]
    assert ids == ["a.txt", "b.md", None, "node_modules-f.md", "sub-d.markdown", "sub-deeper-e.txt"]
    assert sorted(name for name, _ in result.skipped) == [
        str(root / "c.png"),
        str(root / "sub" / "skip.bin"),
    ]
    assert result.problems == []


def test_include_and_exclude(tmp_path: Path) -> None:
    root = _tree(tmp_path / "docs", FILES)
    only_md = Filters(include=("*.md", "*.markdown"))
    assert _ids(root, recursive=True, filters=only_md) == [
        "b.md",
        "node_modules-f.md",
        "sub-d.markdown",
    ]
    no_modules = Filters(exclude=("node_modules", "sub/deeper/*"))
    assert _ids(root, recursive=True, filters=no_modules) == [
        "a.txt",
        "b.md",
        None,
        "sub-d.markdown",
    ]
    by_path = Filters(include=("sub/*",), exclude=("*.markdown",))
    assert _ids(root, recursive=True, filters=by_path) == ["sub-deeper-e.txt"]


def test_a_file_named_is_taken_whatever_the_filters(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["docs/Install Guide.txt", "docs/photo.png"])
    result = plan(
        [root / "docs" / "Install Guide.txt", root / "docs" / "photo.png"],
        recursive=False,
        filters=Filters(exclude=("*.txt",)),
    )
    assert [s.doc_id for s in result.sources] == ["Install-Guide.txt"]
    ((name, reason),) = result.problems
    assert name == str(root / "docs" / "photo.png") and "not a type sluice sends" in reason


def test_ids_are_relative_to_the_path_named(tmp_path: Path) -> None:
    _tree(tmp_path, ["docs/Install Guide.txt"])
    assert _ids(tmp_path, recursive=True, filters=Filters()) == ["docs-Install-Guide.txt"]
    assert _ids(tmp_path / "docs", recursive=True, filters=Filters()) == ["Install-Guide.txt"]


def test_two_files_of_one_id_the_second_is_a_problem(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["a b.txt", "a-b.txt"])
    result = plan([root], recursive=False, filters=Filters())
    assert [s.doc_id for s in result.sources] == ["a-b.txt"]
    ((name, reason),) = result.problems
    assert name == str(root / "a-b.txt")
    assert reason == f"its document id a-b.txt is also {root / 'a b.txt'}'s"


def test_extensions_are_case_insensitive(tmp_path: Path) -> None:
    root = _tree(tmp_path, ["UPPER.TXT", "Mixed.Md", "page.HTM", "paper.PDF", "memo.DOCX"])
    media = {
        s.doc_id: s.media_type for s in plan([root], recursive=False, filters=Filters()).sources
    }
    assert media == {
        "Mixed.Md": "text/markdown",
        "UPPER.TXT": "text/plain",
        "memo.DOCX": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
        "page.HTM": "text/html",
        "paper.PDF": "application/pdf",
    }


def test_a_file_over_the_request_limit_is_a_problem(tmp_path: Path) -> None:
    big = tmp_path / "big.txt"
    with big.open("wb") as out:
        out.truncate(16 * 1024 * 1024 + 1)  # sparse: no 16 MiB written
    result = plan([big], recursive=False, filters=Filters())
    assert result.sources == []
    assert result.problems == [(str(big), "larger than the 16 MiB a request may hold")]


def test_the_cli_sends_exactly_the_types_ingest_reads() -> None:
    from sluice_cli.sources import MEDIA_TYPES

    from sluice.extract.formats import SUFFIXES

    assert MEDIA_TYPES == SUFFIXES
