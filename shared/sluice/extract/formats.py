"""The file formats Sluice ingests: their media types, the file names that imply them.

Only the standard library here: ingest imports it to accept or refuse a file without loading
any parser.
"""

from __future__ import annotations

from pathlib import PurePosixPath

PDF = "application/pdf"
HTML = "text/html"
MARKDOWN = "text/markdown"
TEXT = "text/plain"
DOCX = "application/vnd.openxmlformats-officedocument.wordprocessingml.document"

FORMATS: dict[str, str] = {
    PDF: "pdf",
    HTML: "html",
    "application/xhtml+xml": "html",
    MARKDOWN: "markdown",
    "text/x-markdown": "markdown",
    TEXT: "text",
    DOCX: "docx",
}
"""Media type → the parser that reads it."""

SUFFIXES: dict[str, str] = {
    ".pdf": PDF,
    ".html": HTML,
    ".htm": HTML,
    ".xhtml": "application/xhtml+xml",
    ".md": MARKDOWN,
    ".markdown": MARKDOWN,
    ".txt": TEXT,
    ".text": TEXT,
    ".docx": DOCX,
}
"""File name suffix → media type, for clients that send no useful type (browsers send
`application/octet-stream` for types they do not know)."""

UNTYPED = frozenset({"", "application/octet-stream"})


def media_type_of(declared: str, filename: str = "") -> str | None:
    """The media type a file is read as: the declared one if Sluice reads it, else (when the
    client declared none, or `application/octet-stream`) the one its name implies; None if
    Sluice cannot read it."""
    declared = declared.strip().lower()
    if declared in FORMATS:
        return declared
    if declared in UNTYPED:
        return SUFFIXES.get(PurePosixPath(filename).suffix.lower())
    return None


def accepted_types() -> str:
    """The accepted media types and suffixes, for error messages."""
    return (
        f"{', '.join(sorted(FORMATS))} (or a file named "
        f"{', '.join(sorted(SUFFIXES))} sent as application/octet-stream)"
    )
