"""The parser of each format, behind one call. Imports every parsing library: the sandbox's
server process imports it once, so each file's child starts with them loaded."""

from __future__ import annotations

from sluice.extract.docx import extract_docx
from sluice.extract.html import extract_html
from sluice.extract.markdown import extract_markdown
from sluice.extract.pdf import extract_pdf
from sluice.extract.result import Extracted, Limits
from sluice.extract.text import extract_text


def parse(kind: str, data: bytes, charset: str | None, limits: Limits) -> Extracted:
    """The text of a file of `kind` (a value of `formats.FORMATS`), in this process."""
    if kind == "pdf":
        return extract_pdf(data, limits.max_pages)
    if kind == "docx":
        return extract_docx(data, limits.max_unpacked_bytes)
    if kind == "html":
        return extract_html(data, charset)
    if kind == "markdown":
        return extract_markdown(data, charset)
    if kind == "text":
        return extract_text(data, charset)
    raise ValueError(f"no parser for {kind!r}")
