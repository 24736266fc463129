"""Extraction on real files (tests/testfiles.py), through the sandbox as transform runs it:
each format's text and structure, and each broken file's reason; the sandbox's time and
memory bounds are hit for real."""

from __future__ import annotations

from collections.abc import Callable

import pytest

from sluice.chunker import chunk_blocks
from sluice.extract.formats import DOCX, HTML, MARKDOWN, PDF, TEXT, media_type_of
from sluice.extract.result import Extracted, ExtractionFailed, Limits
from sluice.extract.sandbox import extract
from tests import testfiles

LIMITS = Limits()


def _text(extracted: Extracted) -> str:
    return "\n".join(block.text for block in extracted.blocks)


def test_a_pdf_gives_each_pages_text_on_its_page_and_its_title() -> None:
    extracted = extract(testfiles.multipage_pdf(), PDF, None, LIMITS)

    assert extracted.title == testfiles.PDF_TITLE
    assert [block.page for block in extracted.blocks] == [1, 2, 3, 4]
    for block, words in zip(extracted.blocks, testfiles.pdf_page_words(), strict=True):
        others = _text(extracted).replace(block.text, "")
        for word in words:
            assert word in block.text and word not in others


def test_pdf_chunks_stay_on_their_pages() -> None:
    extracted = extract(testfiles.multipage_pdf(pages=12), PDF, None, LIMITS)
    _, chunks = chunk_blocks(extracted.blocks, 400, 60)

    assert {c.page for c in chunks} == set(range(1, 13))
    for chunk in chunks:
        assert chunk.page == chunk.page_end  # every page is longer than a chunk here
        page_text = extracted.blocks[chunk.page - 1].text
        assert chunk.text in page_text


def test_html_keeps_the_article_and_its_headings_and_drops_the_boilerplate() -> None:
    extracted = extract(testfiles.article_html(), HTML, None, LIMITS)
    text = _text(extracted)

    assert testfiles.ARTICLE_TITLE in extracted.title
    for word in testfiles.ARTICLE_WORDS:
        assert word in text
    for word in testfiles.BOILERPLATE_WORDS:
        assert word not in text
    sections = {block.section for block in extracted.blocks}
    assert f"{testfiles.ARTICLE_TITLE} > How a modern gate works > Counterweights and motors" in (
        sections
    )


def test_markdown_blocks_carry_their_heading_paths() -> None:
    extracted = extract(testfiles.nested_markdown(), MARKDOWN, None, LIMITS)

    assert extracted.title == testfiles.MARKDOWN_TITLE
    for path, word in testfiles.MARKDOWN_SECTIONS:
        (block,) = [b for b in extracted.blocks if word in b.text]
        assert block.section == " > ".join(path)
    (code,) = [b for b in extracted.blocks if testfiles.MARKDOWN_CODE_WORD in b.text]
    assert code.section == "Install > Linux > Debian"  # a `#` inside code opens no section


def test_docx_blocks_carry_their_headings_and_the_table() -> None:
    extracted = extract(testfiles.report_docx(), DOCX, None, LIMITS)

    assert extracted.title == testfiles.DOCX_TITLE
    paths = {1: "", 2: ""}
    for level, heading, word in testfiles.DOCX_SECTIONS:
        paths[level] = heading
        expected = heading if level == 1 else f"{paths[1]} > {heading}"
        (block,) = [b for b in extracted.blocks if word in b.text]
        assert block.section == expected
    assert testfiles.DOCX_TABLE_WORD in _text(extracted)


@pytest.mark.parametrize(
    ("make", "media_type", "reason"),
    [
        (testfiles.encrypted_pdf, PDF, "encrypted"),
        (testfiles.truncated_pdf, PDF, "damaged"),
        (testfiles.scanned_pdf, PDF, "OCR"),
        (testfiles.corrupt_docx, DOCX, "corrupt zip"),
        (testfiles.zip_bomb_docx, DOCX, "zip bomb"),
        (testfiles.lying_zip_bomb_docx, DOCX, "Bad CRC-32"),  # declares 4 KiB, inflates to 1 GiB
        (testfiles.wrong_encoding_html, HTML, "not valid utf-8"),
        (lambda: b"plain \xff\xfe text", TEXT, "not valid utf-8"),
    ],
    ids=[
        "encrypted-pdf",
        "truncated-pdf",
        "scanned-pdf",
        "corrupt-docx",
        "zip-bomb",
        "lying-zip-bomb",
        "wrong-encoding",
        "bad-text",
    ],
)
def test_a_broken_file_fails_with_its_reason(
    make: Callable[[], bytes], media_type: str, reason: str
) -> None:
    with pytest.raises(ExtractionFailed) as failed:
        extract(make(), media_type, None, LIMITS)
    assert reason.lower() in str(failed.value).lower()


def test_a_declared_charset_is_used_and_a_wrong_one_named() -> None:
    latin = "café résumé".encode("latin-1")
    assert "café" in _text(extract(latin, TEXT, "iso-8859-1", LIMITS))
    with pytest.raises(ExtractionFailed, match="no-such-charset"):
        extract(latin, TEXT, "no-such-charset", LIMITS)


def test_a_parse_over_its_time_is_killed_and_says_so() -> None:
    big = testfiles.multipage_pdf(pages=400)
    with pytest.raises(ExtractionFailed, match=r"longer than 0\.001 s"):
        extract(big, PDF, None, Limits(timeout_seconds=0.001))
    assert extract(testfiles.multipage_pdf(), PDF, None, LIMITS).blocks  # the next one works


def test_a_parse_over_its_memory_fails_and_says_so() -> None:
    # The bomb's declared size passes a generous bound; inflating it then hits the memory limit.
    limits = Limits(memory_bytes=700 << 20, max_unpacked_bytes=8 << 30)
    with pytest.raises(ExtractionFailed, match="memory"):
        extract(testfiles.zip_bomb_docx(), DOCX, None, limits)


def test_too_many_pages_fails() -> None:
    with pytest.raises(ExtractionFailed, match="12 pages; the limit is 10"):
        extract(testfiles.multipage_pdf(pages=12), PDF, None, Limits(max_pages=10))


@pytest.mark.parametrize(
    ("declared", "name", "expected"),
    [
        ("application/pdf", "", PDF),
        ("TEXT/HTML", "", HTML),
        ("application/octet-stream", "notes.MD", MARKDOWN),
        ("", "report.docx", DOCX),
        ("application/octet-stream", "photo.png", None),
        ("image/png", "x.pdf", None),  # a declared type is believed
    ],
)
def test_media_types_come_from_the_declared_type_or_the_name(
    declared: str, name: str, expected: str | None
) -> None:
    assert media_type_of(declared, name) == expected
