"""Cuts a document into overlapping chunks of at most `size` characters.

The text is split into pieces: sentences, or words inside a sentence longer than `size`, or
fixed slices of a word longer than `size`. Chunks are runs of whole pieces. Each chunk ends at
the strongest break it can (a paragraph break, else a sentence end, else a space) while still
being at least half full, and the next chunk starts with the last whole pieces of the previous
one that fit in `overlap` characters. Each chunk is a span of the original text, so its start
and end offsets point back into the document.

A file's text comes in blocks (`sluice.extract`: a PDF page, the body under a heading):
`chunk_blocks` chunks each block on its own, so a chunk never spans two pages or two sections,
except that consecutive blocks of one section that fit in a chunk together (short pages) are
chunked as one; such a chunk carries the range of its pages.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from dataclasses import dataclass

from sluice.extract.result import Block

_PARAGRAPH = re.compile(r"\n\s*\n")
_SENTENCE = re.compile(r"(?<=[.!?])[\"')\]]*\s+")
_SPACE = re.compile(r"\s+")

# How good a place to cut the end of a piece is.
_HARD, _WORD, _SENTENCE_END, _PARAGRAPH_END = range(4)


@dataclass(frozen=True)
class Chunk:
    """A chunk: its number in the document, its span, its text (the span, stripped), and where
    in a file it came from (its first and last page, 0 without pages; its section)."""

    number: int
    start: int
    end: int
    text: str
    page: int = 0
    page_end: int = 0
    section: str = ""


@dataclass(frozen=True)
class _Piece:
    start: int
    end: int
    strength: int


def search_text(title: str, text: str, section: str = "") -> str:
    """What BM25 indexes and the embedder sees for a chunk: its document's title and its
    section's heading path, then the chunk (a chunk of a long document would otherwise lose
    what the document and the section are about)."""
    context = "\n".join(part for part in (title, section) if part)
    return f"{context}\n\n{text}" if context else text


BLOCK_SEPARATOR = "\n\n"


def chunk_blocks(blocks: Sequence[Block], size: int, overlap: int) -> tuple[str, list[Chunk]]:
    """The document's text (its blocks joined by blank lines) and its chunks, each within one
    block or one run of short blocks of a section (see the module's docstring)."""
    text = BLOCK_SEPARATOR.join(block.text for block in blocks)
    spans: list[tuple[int, int, Block]] = []
    cursor = 0
    for block in blocks:
        spans.append((cursor, cursor + len(block.text), block))
        cursor += len(block.text) + len(BLOCK_SEPARATOR)
    chunks: list[Chunk] = []
    for run in _runs(spans, size):
        start, end = run[0][0], run[-1][1]
        for piece in chunk_text(text[start:end], size, overlap):
            first, last = start + piece.start, start + piece.end
            pages = [block.page for s, e, block in run if s < last and e > first]
            chunks.append(
                Chunk(
                    len(chunks),
                    first,
                    last,
                    piece.text,
                    page=min(pages, default=0),
                    page_end=max(pages, default=0),
                    section=run[0][2].section,
                )
            )
    return text, chunks


def _runs(spans: list[tuple[int, int, Block]], size: int) -> list[list[tuple[int, int, Block]]]:
    """Consecutive blocks grouped: a block joins the run before it if it has the same section
    and the run with it still fits in one chunk."""
    runs: list[list[tuple[int, int, Block]]] = []
    for span in spans:
        if runs and runs[-1][-1][2].section == span[2].section and span[1] - runs[-1][0][0] <= size:
            runs[-1].append(span)
        else:
            runs.append([span])
    return runs


def chunk_text(text: str, size: int, overlap: int) -> list[Chunk]:
    """Split `text` into chunks of at most `size` characters overlapping by up to `overlap`."""
    if size <= 0:
        raise ValueError("size must be positive")
    overlap = max(0, min(overlap, size // 2))
    pieces = _pieces(text, size)
    chunks: list[Chunk] = []
    first = 0
    while first < len(pieces):
        cut = _cut(pieces, first, size)
        start, end = _strip(text, pieces[first].start, pieces[cut].end)
        if start < end:
            chunks.append(Chunk(len(chunks), start, end, text[start:end]))
        if cut + 1 >= len(pieces):
            break
        # Start the next chunk with the last pieces that fit in `overlap`, but no earlier than
        # lets it reach past this chunk's end (else it would repeat this chunk's tail).
        following = cut + 1
        reach = pieces[cut + 1].end
        while (
            following > first + 1
            and pieces[cut].end - pieces[following - 1].start <= overlap
            and reach - pieces[following - 1].start <= size
        ):
            following -= 1
        first = following
    return chunks


def _cut(pieces: list[_Piece], first: int, size: int) -> int:
    """The index of the last piece of the chunk starting at `first`."""
    start = pieces[first].start
    last = first
    while last + 1 < len(pieces) and pieces[last + 1].end - start <= size:
        last += 1
    if last + 1 == len(pieces):
        return last
    candidates = [j for j in range(first, last + 1) if pieces[j].end - start >= size // 2]
    return max(candidates or [last], key=lambda j: (pieces[j].strength, j))


def _pieces(text: str, size: int) -> list[_Piece]:
    pieces: list[_Piece] = []
    for p_start, p_end in _split(_PARAGRAPH, text, 0, len(text)):
        sentences = _split(_SENTENCE, text, p_start, p_end)
        for s_index, (s_start, s_end) in enumerate(sentences):
            strength = _PARAGRAPH_END if s_index == len(sentences) - 1 else _SENTENCE_END
            if s_end - s_start <= size:
                pieces.append(_Piece(s_start, s_end, strength))
                continue
            words = _split(_SPACE, text, s_start, s_end)
            for w_index, (w_start, w_end) in enumerate(words):
                end_strength = strength if w_index == len(words) - 1 else _WORD
                for cut in range(w_start, w_end, size):
                    last_slice = cut + size >= w_end
                    pieces.append(
                        _Piece(cut, min(cut + size, w_end), end_strength if last_slice else _HARD)
                    )
    return pieces


def _split(pattern: re.Pattern[str], text: str, start: int, end: int) -> list[tuple[int, int]]:
    """Spans of text[start:end], each ending just after a match of `pattern` (or at `end`)."""
    spans: list[tuple[int, int]] = []
    cursor = start
    for match in pattern.finditer(text, start, end):
        if match.end() > cursor:
            spans.append((cursor, match.end()))
        cursor = match.end()
    if end > cursor:
        spans.append((cursor, end))
    return spans


def _strip(text: str, start: int, end: int) -> tuple[int, int]:
    while start < end and text[start].isspace():
        start += 1
    while end > start and text[end - 1].isspace():
        end -= 1
    return start, end
