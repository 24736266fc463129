"""What a parser returns: a title and the document's blocks of text, each with where it came
from (a page, a section); or `ExtractionFailed`."""

from __future__ import annotations

from dataclasses import dataclass, field

SECTION_SEPARATOR = " > "
MAX_SECTION = 1024  # characters of a heading path kept (the chunk collection's field)


class ExtractionFailed(Exception):
    """The file cannot be turned into text; the message says why, for the document's record."""


@dataclass(frozen=True)
class Block:
    """A run of text from one place: a PDF page (1-based `page`), or the body under one heading
    (`section`, the heading path such as `Install > Linux`; "" before the first heading)."""

    text: str
    page: int = 0  # 0: the format has no pages
    section: str = ""


@dataclass(frozen=True)
class Extracted:
    """A file's text: its title ("" if it names none) and its blocks, in reading order."""

    title: str
    blocks: list[Block] = field(default_factory=list)

    def characters(self) -> int:
        """How much text there is."""
        return sum(len(block.text) for block in self.blocks)


@dataclass(frozen=True)
class Limits:
    """Bounds on parsing one file (from the `extract` settings)."""

    timeout_seconds: float = 30.0
    memory_bytes: int = 1 << 30
    max_pages: int = 5000
    max_unpacked_bytes: int = 256 << 20


def section_path(headings: list[str]) -> str:
    """The heading path of a block: its enclosing headings, outermost first."""
    return SECTION_SEPARATOR.join(h for h in headings if h)[:MAX_SECTION]


class Outline:
    """The headings open at a point of a document, by level (1 outermost)."""

    def __init__(self) -> None:
        self._open: list[tuple[int, str]] = []

    def enter(self, level: int, heading: str) -> None:
        """A heading of `level` starts: it replaces any open heading at its level or deeper."""
        while self._open and self._open[-1][0] >= level:
            self._open.pop()
        self._open.append((level, " ".join(heading.split())))

    def path(self) -> str:
        """The current heading path."""
        return section_path([heading for _, heading in self._open])
