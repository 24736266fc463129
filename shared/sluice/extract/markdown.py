"""Markdown (CommonMark, markdown-it-py): one block per heading's body, with its heading path;
the title is the first level-1 heading. The blocks keep the Markdown source as it was written
(readable, and what a person searching for a phrase of it typed)."""

from __future__ import annotations

from markdown_it import MarkdownIt

from sluice.extract.result import Block, Extracted, Outline
from sluice.extract.text import decode

_PARSER = MarkdownIt("commonmark")


def extract_markdown(data: bytes, charset: str | None) -> Extracted:
    """Split the file at its headings."""
    return split_at_headings(decode(data, charset).replace("\r\n", "\n"))


def split_at_headings(source: str) -> Extracted:
    """The blocks of Markdown `source`, one per heading (the heading line starts its block)."""
    lines = source.split("\n")
    tokens = _PARSER.parse(source)
    headings: list[tuple[int, int, str]] = []  # (first line, level, text)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map is not None:
            inline = tokens[index + 1]
            headings.append((token.map[0], int(token.tag[1:]), inline.content))
    title = next((text for _, level, text in headings if level == 1), "")
    outline = Outline()
    blocks: list[Block] = []
    starts = [0] + [line for line, _, _ in headings]
    sections = [""]
    for _, level, text in headings:
        outline.enter(level, text)
        sections.append(outline.path())
    ends = [*starts[1:], len(lines)]
    for start, end, section in zip(starts, ends, sections, strict=True):
        text = "\n".join(lines[start:end]).strip()
        if text:
            blocks.append(Block(text, section=section))
    return Extracted(title=" ".join(title.split()), blocks=blocks)
