"""What `sluice ingest PATH…` sends: the files named and found in folders, their media types
and document ids."""

from __future__ import annotations

import os
import re
from dataclasses import dataclass, field
from fnmatch import fnmatchcase
from pathlib import Path, PurePosixPath

MEDIA_TYPES = {
    ".pdf": "application/pdf",
    ".html": "text/html",
    ".htm": "text/html",
    ".xhtml": "application/xhtml+xml",
    ".md": "text/markdown",
    ".markdown": "text/markdown",
    ".txt": "text/plain",
    ".text": "text/plain",
    ".docx": "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
}
"""The file types sent as files, by extension (case-insensitive): the twin of the server's
`sluice.extract.formats.SUFFIXES` (this package cannot import the server library;
tests/cli/test_cli_sources.py keeps them equal)."""

JSONL = ".jsonl"
"""Files of one JSON document a line, sent as JSON batches."""

MAX_FILE_BYTES = 16 * 1024 * 1024  # the APIs' body limit: a larger file is not sent
ID_MAX = 256
_NOT_IN_ID = re.compile(r"[^A-Za-z0-9._~:@+-]")
_ID = re.compile(r"[A-Za-z0-9][A-Za-z0-9._~:@+-]{0,255}")


def document_id(relative: str) -> str:
    """The document id of a file: its path relative to the PATH argument it came from, every
    character an id cannot hold replaced by `-`, `f` in front unless it starts with a letter
    or digit, at most 256 characters."""
    text = _NOT_IN_ID.sub("-", relative)
    if not text[:1].isascii() or not text[:1].isalnum():
        text = "f" + text
    text = text[:ID_MAX]
    assert _ID.fullmatch(text), text
    return text


@dataclass(frozen=True)
class Source:
    """A file to send: where it is, what it is called, and its document id (files) or none
    (a `.jsonl` file, whose lines name their own)."""

    path: Path
    name: str  # as the user sees it: the PATH argument joined with the path below it
    doc_id: str | None
    media_type: str | None  # None: a .jsonl file
    size: int


@dataclass
class Plan:
    """The sources of a run, what was skipped (name, why) and what cannot be sent
    (name, why)."""

    sources: list[Source] = field(default_factory=list)
    skipped: list[tuple[str, str]] = field(default_factory=list)
    problems: list[tuple[str, str]] = field(default_factory=list)
    folders_not_descended: int = 0


@dataclass(frozen=True)
class Filters:
    """`--include` and `--exclude` globs: matched against a file's name when the glob has no
    `/`, else against its path below the PATH argument. A file is taken when it matches some
    include (or none are given) and no exclude; a folder matching an exclude is not entered."""

    include: tuple[str, ...] = ()
    exclude: tuple[str, ...] = ()

    def takes(self, relative: PurePosixPath) -> bool:
        """Whether a file found in a folder is taken."""
        if self.include and not any(_matches(relative, glob) for glob in self.include):
            return False
        return not self.excludes(relative)

    def excludes(self, relative: PurePosixPath) -> bool:
        """Whether a file or folder below a PATH argument matches an exclude."""
        return any(_matches(relative, glob) for glob in self.exclude)


def plan(paths: list[Path], *, recursive: bool, filters: Filters) -> Plan:
    """Every file to send, in a stable order: files named are taken whatever their name (an
    unsupported type is a problem); folders give their supported files (all levels with
    `recursive`, else their direct files), hidden entries left out."""
    result = Plan()
    seen: dict[str, str] = {}  # document id -> the name of the file that has it
    for root in paths:
        if root.is_dir():
            for path in _walk(root, recursive, filters, result):
                _add(result, seen, path, path.relative_to(root).as_posix())
        else:
            _add(result, seen, root, root.name)
    return result


def _walk(root: Path, recursive: bool, filters: Filters, result: Plan) -> list[Path]:
    found: list[Path] = []
    for folder, dirs, files in os.walk(root):
        here = Path(folder)
        if not recursive:
            result.folders_not_descended += sum(not d.startswith(".") for d in dirs)
            dirs.clear()
        dirs[:] = sorted(
            d
            for d in dirs
            if not d.startswith(".")
            and not filters.excludes(PurePosixPath((here / d).relative_to(root).as_posix()))
        )
        for name in sorted(files):
            path = here / name
            relative = PurePosixPath(path.relative_to(root).as_posix())
            if name.startswith(".") or not filters.takes(relative):
                continue
            if _kind(path) is None:
                result.skipped.append((str(path), "not a type sluice sends"))
            else:
                found.append(path)
    return found


def _add(result: Plan, seen: dict[str, str], path: Path, relative: str) -> None:
    name = str(path)
    kind = _kind(path)
    if kind is None:
        supported = ", ".join([*MEDIA_TYPES, JSONL])
        result.problems.append((name, f"not a type sluice sends ({supported})"))
        return
    try:
        size = path.stat().st_size
    except OSError as exc:
        result.problems.append((name, f"cannot read it: {exc.strerror or exc}"))
        return
    if kind == JSONL:
        result.sources.append(Source(path, name, None, None, size))
        return
    if size > MAX_FILE_BYTES:
        result.problems.append((name, "larger than the 16 MiB a request may hold"))
        return
    doc_id = document_id(relative)
    if doc_id in seen:
        result.problems.append((name, f"its document id {doc_id} is also {seen[doc_id]}'s"))
        return
    seen[doc_id] = name
    result.sources.append(Source(path, name, doc_id, kind, size))


def _kind(path: Path) -> str | None:
    """The media type of a file sluice sends, `.jsonl` for a JSON-lines file, else None."""
    suffix = path.suffix.lower()
    return JSONL if suffix == JSONL else MEDIA_TYPES.get(suffix)


def _matches(relative: PurePosixPath, glob: str) -> bool:
    subject = str(relative) if "/" in glob else relative.name
    return fnmatchcase(subject, glob.strip("/"))
