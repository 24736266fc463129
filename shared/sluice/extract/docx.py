"""DOCX (python-docx): one block per heading's body (paragraphs styled `Heading 1` to `Heading 9`
open sections; tables become lines of cells separated by ` | `); the title is the document's
core property, else its `Title`-styled paragraph.

A DOCX is a zip: before python-docx inflates it, the sizes its directory declares are checked
against a bound (a zip bomb fails here), and each member is inflated in small pieces so that
one that inflates past what it declares fails at zipfile's size and CRC check after a few KiB;
the sandbox's memory limit stands behind both.
"""

from __future__ import annotations

import io
import re
import zipfile

import docx
from docx.document import Document
from docx.table import Table
from docx.text.paragraph import Paragraph

from sluice.extract.result import Block, Extracted, ExtractionFailed, Outline

_HEADING = re.compile(r"^Heading ([1-9])$")


def extract_docx(data: bytes, max_unpacked_bytes: int) -> Extracted:
    """The text of the document's body, split at its headings."""
    _check_archive(data, max_unpacked_bytes)
    try:
        document = docx.Document(io.BytesIO(data))
    except (zipfile.BadZipFile, KeyError, ValueError) as exc:
        raise ExtractionFailed(f"the file is not a readable DOCX: {exc}") from None
    except MemoryError:
        raise  # the sandbox names the memory limit
    except Exception as exc:  # lxml and python-docx raise many kinds for a damaged part
        raise ExtractionFailed(
            f"the DOCX is damaged: {type(exc).__name__}: {str(exc)[:200]}"
        ) from None
    return _blocks(document)


def _check_archive(data: bytes, bound: int) -> None:
    """Refuse an archive that declares more than `bound` bytes, or whose members inflate to
    other than they declare (python-docx's whole-member reads inflate up to 2 GiB before
    zipfile notices)."""
    try:
        with zipfile.ZipFile(io.BytesIO(data)) as archive:
            members = archive.infolist()
            declared = sum(info.file_size for info in members)
            if "word/document.xml" not in archive.namelist():
                raise ExtractionFailed("the archive has no word/document.xml: it is not a DOCX")
            if declared > bound:
                raise ExtractionFailed(
                    f"the DOCX would unpack to {declared} bytes; the limit is {bound} (a zip bomb?)"
                )
            for info in members:
                _read_in_pieces(archive, info)
    except zipfile.BadZipFile as exc:
        raise ExtractionFailed(f"the file is not a readable DOCX (a corrupt zip: {exc})") from None


def _read_in_pieces(archive: zipfile.ZipFile, info: zipfile.ZipInfo) -> None:
    """Inflate a member 64 KiB at a time: zipfile stops it at its declared size and checks its
    CRC there, so a member that lies about its size fails after a few KiB, not gigabytes."""
    with archive.open(info) as member:
        while member.read(1 << 16):
            pass


def _blocks(document: Document) -> Extracted:
    outline = Outline()
    blocks: list[Block] = []
    lines: list[str] = []
    title_paragraph = ""

    def close() -> None:
        text = "\n".join(lines).strip()
        if text:
            blocks.append(Block(text, section=outline.path()))
        lines.clear()

    for item in document.iter_inner_content():
        if isinstance(item, Table):
            lines.extend(_table_lines(item))
            continue
        assert isinstance(item, Paragraph)
        text, style = item.text.strip(), item.style.name if item.style is not None else ""
        heading = _HEADING.match(style or "")
        if heading and text:
            close()
            outline.enter(int(heading.group(1)), text)
            lines.append(text)
        elif style == "Title" and text and not title_paragraph:
            title_paragraph = text
        elif text:
            lines.append(text)
    close()
    title = (document.core_properties.title or "").strip() or title_paragraph
    return Extracted(title=" ".join(title.split())[:1024], blocks=blocks)


def _table_lines(table: Table) -> list[str]:
    lines = []
    for row in table.rows:
        cells = [" ".join(cell.text.split()) for cell in row.cells]
        if any(cells):
            lines.append(" | ".join(cells))
    return lines
