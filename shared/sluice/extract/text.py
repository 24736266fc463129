"""Bytes to text, strictly in the file's declared encoding; and plain text files.

The charset is the one the client declared (`Content-Type: text/html; charset=…`), else a byte
order mark, else (HTML) a `<meta charset>` in the first 1024 bytes, else UTF-8. Text that does
not decode in it fails with the offset of the first bad byte, rather than being indexed with
replacement characters nobody can search for.
"""

from __future__ import annotations

import codecs
import re

from sluice.extract.result import Block, Extracted, ExtractionFailed

_BOMS = (
    (codecs.BOM_UTF8, "utf-8-sig"),
    (codecs.BOM_UTF16_LE, "utf-16"),
    (codecs.BOM_UTF16_BE, "utf-16"),
)
_META_CHARSET = re.compile(rb"""<meta[^>]+charset\s*=\s*["']?\s*([A-Za-z0-9._:-]+)""", re.I)


def decode(data: bytes, charset: str | None, *, html: bool = False) -> str:
    """The text of `data` (see the module's docstring for where its encoding comes from)."""
    name, source = _charset(data, charset, html=html)
    try:
        codec = codecs.lookup(name)
    except LookupError:
        raise ExtractionFailed(
            f"the {source} charset {name!r} is not an encoding we know"
        ) from None
    try:
        text = data.decode(codec.name)
    except UnicodeDecodeError as exc:
        raise ExtractionFailed(
            f"the file is not valid {name} ({source}): byte {exc.start} (0x{data[exc.start]:02x}) "
            "cannot be decoded; save it as UTF-8 or declare its real charset"
        ) from None
    return text.lstrip("\ufeff")


def _charset(data: bytes, declared: str | None, *, html: bool) -> tuple[str, str]:
    if declared:
        return declared.strip().strip('"').lower(), "declared"
    for bom, name in _BOMS:
        if data.startswith(bom):
            return name, "byte order mark"
    if html:
        meta = _META_CHARSET.search(data[:1024])
        if meta:
            return meta.group(1).decode("ascii").lower(), "<meta charset>"
    return "utf-8", "default"


def extract_text(data: bytes, charset: str | None) -> Extracted:
    """A plain text file: one block, no title of its own."""
    text = decode(data, charset).replace("\r\n", "\n")
    return Extracted(title="", blocks=[Block(text)])
