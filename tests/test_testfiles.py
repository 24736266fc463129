"""The generated test files are what `tests/testfiles.py` says they are, checked with readers
other than the ones ingestion uses where there is one (pypdf for PDF, zipfile and python-docx
for DOCX, the stdlib for HTML and Markdown)."""

from __future__ import annotations

import io
import re
import zipfile
import zlib

import pypdfium2 as pdfium
import pytest
from pypdf import PdfReader

from tests import testfiles


def _words(text: str) -> set[str]:
    return set(re.findall(r"\w+", text))


def test_files_are_deterministic() -> None:
    for make in (
        testfiles.multipage_pdf,
        testfiles.scanned_pdf,
        testfiles.encrypted_pdf,
        testfiles.truncated_pdf,
        testfiles.article_html,
        testfiles.wrong_encoding_html,
        testfiles.nested_markdown,
        testfiles.report_docx,
        testfiles.corrupt_docx,
    ):
        assert make() == make(), make.__name__


def test_multipage_pdf_pypdf_reads_four_pages_with_their_words() -> None:
    reader = PdfReader(io.BytesIO(testfiles.multipage_pdf()))
    assert len(reader.pages) == 4
    assert reader.metadata is not None
    assert reader.metadata.title == testfiles.PDF_TITLE
    texts = [page.extract_text() for page in reader.pages]
    assert testfiles.PAGE3_WORD in _words(texts[2])
    for number, words in enumerate(testfiles.pdf_page_words(), start=1):
        for index, text in enumerate(texts, start=1):
            for word in words:
                assert (word in _words(text)) == (index == number), (word, index)
        assert testfiles.pdf_page_heading(number) in texts[number - 1]
    assert testfiles.PDF_TITLE in texts[0]
    assert all(400 <= len(text) <= 800 for text in texts), [len(text) for text in texts]


def test_multipage_pdf_pdfium_finds_each_page_words_on_its_page() -> None:
    document = pdfium.PdfDocument(testfiles.multipage_pdf())
    texts = [document[i].get_textpage().get_text_bounded() for i in range(len(document))]
    assert len(texts) == 4
    for number, words in enumerate(testfiles.pdf_page_words(), start=1):
        for index, text in enumerate(texts, start=1):
            for word in words:
                assert (word in _words(text)) == (index == number), (word, index)


def test_multipage_pdf_takes_a_page_count() -> None:
    reader = PdfReader(io.BytesIO(testfiles.multipage_pdf(pages=12)))
    assert len(reader.pages) == 12
    words = testfiles.pdf_page_words(12)
    assert words[11] == ("echoabc", "foxtrotabc")
    assert words[11][0] in _words(reader.pages[11].extract_text())
    assert testfiles.PAGE3_WORD not in _words(reader.pages[6].extract_text())


def test_scanned_pdf_has_pages_but_no_text() -> None:
    document = pdfium.PdfDocument(testfiles.scanned_pdf())
    assert len(document) == 2
    for i in range(len(document)):
        assert document[i].get_textpage().get_text_bounded().strip() == ""
    reader = PdfReader(io.BytesIO(testfiles.scanned_pdf()))
    assert [page.extract_text().strip() for page in reader.pages] == ["", ""]
    assert all("/XObject" in str(page["/Resources"]) for page in reader.pages)


def test_encrypted_pdf_needs_the_password() -> None:
    data = testfiles.encrypted_pdf()
    reader = PdfReader(io.BytesIO(data))
    assert reader.is_encrypted
    with pytest.raises(pdfium.PdfiumError, match="password"):
        pdfium.PdfDocument(data)
    assert reader.decrypt(testfiles.PDF_PASSWORD)
    assert testfiles.PAGE3_WORD in _words(reader.pages[2].extract_text())
    assert PdfReader(io.BytesIO(testfiles.encrypted_pdf("RC4-128"))).is_encrypted


def test_truncated_pdf_is_cut_and_pdfium_cannot_open_it() -> None:
    whole, cut = testfiles.multipage_pdf(), testfiles.truncated_pdf()
    assert whole.startswith(cut) and len(cut) < len(whole) * 0.6
    assert b"trailer" not in cut and b"%%EOF" not in cut
    with pytest.raises(pdfium.PdfiumError, match="Data format error"):
        pdfium.PdfDocument(cut)


def test_article_html_boilerplate_words_only_in_boilerplate() -> None:
    html = testfiles.article_html().decode("utf-8")
    assert '<meta charset="utf-8">' in html and "<title>" in html
    article = html[html.index("<article>") : html.index("</article>")]
    for word in testfiles.BOILERPLATE_WORDS:
        assert word in html and word not in article, word
    for word in testfiles.ARTICLE_WORDS:
        assert word in article and html.count(word) == article.count(word), word
    for level, heading in testfiles.ARTICLE_HEADINGS:
        assert f"<h{level}>{heading}</h{level}>" in article


def test_wrong_encoding_html_fails_strict_utf8() -> None:
    data = testfiles.wrong_encoding_html()
    assert b'<meta charset="utf-8">' in data
    with pytest.raises(UnicodeDecodeError):
        data.decode("utf-8")
    text = data.decode("latin-1")
    assert all(word in text for word in testfiles.LATIN1_WORDS)


def test_nested_markdown_headings() -> None:
    text = testfiles.nested_markdown().decode("utf-8")
    headings = re.findall(r"^(#+) (.+)$", text, flags=re.MULTILINE)
    assert headings[0] == ("#", testfiles.MARKDOWN_TITLE)
    paths = [path for path, _word in testfiles.MARKDOWN_SECTIONS]
    assert [(len(path), path[-1]) for path in paths] == [(len(h), t) for h, t in headings]
    for _path, word in testfiles.MARKDOWN_SECTIONS:
        assert text.count(word) == 1, word
    assert "```sh" in text and testfiles.MARKDOWN_CODE_WORD in text
    assert re.search(rf"^- .*{testfiles.MARKDOWN_LIST_WORD}", text, flags=re.MULTILINE)


def test_report_docx_opens_with_python_docx_and_has_the_headings() -> None:
    import docx

    document = docx.Document(io.BytesIO(testfiles.report_docx()))
    assert document.core_properties.title == testfiles.DOCX_TITLE
    paragraphs = [(p.style.name if p.style else "", p.text) for p in document.paragraphs]
    assert paragraphs[0] == ("Title", testfiles.DOCX_TITLE_PARAGRAPH)
    headings = [(style, text) for style, text in paragraphs if style.startswith("Heading")]
    assert headings == [(f"Heading {lvl}", text) for lvl, text, _w in testfiles.DOCX_SECTIONS]
    body = " ".join(text for style, text in paragraphs if style == "Normal")
    assert all(word in _words(body) for _l, _t, word in testfiles.DOCX_SECTIONS)
    cells = [cell.text for row in document.tables[0].rows for cell in row.cells]
    assert any(testfiles.DOCX_TABLE_WORD in cell for cell in cells)


def test_corrupt_docx_is_not_a_zip() -> None:
    data = testfiles.corrupt_docx()
    assert data.startswith(b"PK\x03\x04")
    with pytest.raises(zipfile.BadZipFile):
        zipfile.ZipFile(io.BytesIO(data))


def test_zip_bombs_are_small_and_expand_hugely() -> None:
    honest, lying = testfiles.zip_bomb_docx(), testfiles.lying_zip_bomb_docx()
    for data in (honest, lying):
        assert len(data) < 4 << 20
        with zipfile.ZipFile(io.BytesIO(data)) as archive:  # reads the directory only
            names = archive.namelist()
            assert names == ["[Content_Types].xml", "_rels/.rels", "word/document.xml"]
            member = archive.getinfo("word/document.xml")
            assert member.compress_type == zipfile.ZIP_DEFLATED
            assert member.compress_size < 4 << 20
    with zipfile.ZipFile(io.BytesIO(honest)) as archive:
        assert archive.getinfo("word/document.xml").file_size >= testfiles.ZIP_BOMB_SIZE
    with zipfile.ZipFile(io.BytesIO(lying)) as archive:
        member = archive.getinfo("word/document.xml")
    assert member.file_size == testfiles.LYING_DECLARED_SIZE
    # The stream really expands far past what is declared: inflate a bounded prefix only.
    start = member.header_offset + 30 + len(member.filename.encode())
    start += int.from_bytes(lying[member.header_offset + 28 : member.header_offset + 30], "little")
    inflater = zlib.decompressobj(-15)
    produced = len(inflater.decompress(lying[start : start + member.compress_size], 1 << 20))
    while produced < 64 << 20 and inflater.unconsumed_tail:
        produced += len(inflater.decompress(inflater.unconsumed_tail, 1 << 20))
    assert produced >= 64 << 20  # and it would go on: 16,000 times the declared size so far
