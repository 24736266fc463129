"""PDF (pypdfium2, PDFium's text layer): one block per page with its page number; the title is
the document's Info `/Title`.

PDFium repairs many damaged files; what it cannot open fails with its reason (a password is
needed, the file is not a PDF or is damaged beyond repair). A PDF whose pages hold no text (a
scan) fails too: it needs OCR first, which Sluice does not do.
"""

from __future__ import annotations

import re

import pypdfium2 as pdfium

from sluice.extract.result import Block, Extracted, ExtractionFailed

_SPACES = re.compile(r"[ \t\f\v]+")
_BLANK_LINES = re.compile(r"\n{3,}")


def extract_pdf(data: bytes, max_pages: int) -> Extracted:
    """The text of each page."""
    try:
        document = pdfium.PdfDocument(data)
    except pdfium.PdfiumError as exc:
        raise ExtractionFailed(_open_failure(str(exc))) from None
    try:
        pages = len(document)
        if pages > max_pages:
            raise ExtractionFailed(f"the PDF has {pages} pages; the limit is {max_pages}")
        blocks = []
        for number in range(pages):
            page = document[number]
            try:
                text = _clean(page.get_textpage().get_text_bounded())
            finally:
                page.close()
            if text:
                blocks.append(Block(text, page=number + 1))
        if not blocks:
            raise ExtractionFailed(
                f"none of the PDF's {pages} pages has a text layer (a scanned document?): "
                "run OCR on it first"
            )
        title = (document.get_metadata_value("Title") or "").strip()
        return Extracted(title=" ".join(title.split())[:1024], blocks=blocks)
    finally:
        document.close()


def _open_failure(message: str) -> str:
    lowered = message.lower()
    if "password" in lowered:
        return "the PDF is encrypted: it needs a password to open (send it decrypted)"
    if "format" in lowered:
        return "the file is not a PDF PDFium can read, or it is damaged beyond repair"
    return f"PDFium cannot open the PDF: {message}"


def _clean(text: str) -> str:
    text = text.replace("\r\n", "\n").replace("\r", "\n").replace("\x00", "")
    text = "\n".join(_SPACES.sub(" ", line).strip() for line in text.split("\n"))
    return _BLANK_LINES.sub("\n\n", text).strip()
