"""HTML (trafilatura): the page's main text without its navigation, banners, sidebars and
footers, as Markdown, split at its headings like a Markdown file; the title is the page's own
(`<title>`, Open Graph, …) as trafilatura reads it."""

from __future__ import annotations

import logging

import trafilatura

from sluice.extract.markdown import split_at_headings
from sluice.extract.result import Extracted, ExtractionFailed
from sluice.extract.text import decode

# trafilatura logs every page it finds too short at WARNING: a failed extraction says so itself.
logging.getLogger("trafilatura").setLevel(logging.ERROR)


def extract_html(data: bytes, charset: str | None) -> Extracted:
    """The page's main text."""
    page = decode(data, charset, html=True)
    text = trafilatura.extract(
        page,
        output_format="markdown",
        include_formatting=True,
        include_comments=False,
        include_tables=True,
        include_links=False,
        include_images=False,
        favor_precision=True,
        deduplicate=False,
    )
    if not text or not text.strip():
        raise ExtractionFailed("the HTML page has no main text to index")
    extracted = split_at_headings(text)
    metadata = trafilatura.extract_metadata(page)
    title = (metadata.title if metadata is not None and metadata.title else "") or extracted.title
    return Extracted(title=" ".join(title.split())[:1024], blocks=extracted.blocks)
