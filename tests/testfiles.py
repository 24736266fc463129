"""Tiny, license-clean test files for file ingestion, made by code (nothing copied in).

Every function returns the file's `bytes` and is deterministic: the same bytes on every run
(no dates, no random identifiers; the zips carry a fixed 1980-01-01 timestamp). The constants
next to each function say what a correct extractor must find in the file (and, for HTML, what
it must not find), so tests and `bench/extraction.py` check against one source.

- PDF: `multipage_pdf` (known words per page), `scanned_pdf` (no text layer),
  `encrypted_pdf` (user password), `truncated_pdf` (cut short).
- HTML: `article_html` (an article among boilerplate), `wrong_encoding_html` (declares UTF-8,
  holds Latin-1).
- Markdown: `nested_markdown`.
- DOCX: `report_docx`, `zip_bomb_docx`, `lying_zip_bomb_docx`, `corrupt_docx`.
"""

from __future__ import annotations

import functools
import io
import random
import struct
import textwrap
import zipfile
import zlib
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from unittest import mock

# ---------------------------------------------------------------------------------------------
# PDF
# ---------------------------------------------------------------------------------------------

PDF_TITLE = "Sluice Test Manual"
"""The /Title of `multipage_pdf`'s Info dictionary (and its page 1 heading)."""

PDF_PASSWORD = "sluice-user"
"""The user password of `encrypted_pdf` (the owner password is `PDF_OWNER_PASSWORD`)."""
PDF_OWNER_PASSWORD = "sluice-owner"

# One template per page of the 4-page manual: (heading, paragraphs). `{w1}` and `{w2}` are that
# page's unique words (`pdf_page_words`); past page 4 the templates repeat with new words.
_PAGE_TEMPLATES: tuple[tuple[str, tuple[str, ...]], ...] = (
    (
        "Chapter {n}: Alpha Basics",
        (
            "This manual describes the alpha release of the Sluice ingestion service. The {w1} "
            "component watches the inbox folder and hands every new file to the parser. Each "
            "file is read once, split into chunks of a few hundred words, and stored with its "
            "source and page number.",
            "The {w2} setting controls how many files are read at the same time; the default "
            "of four suits a small machine. When the alpha release starts, it checks that the "
            "search index is reachable and reports any problem in plain words before it "
            "accepts work.",
        ),
    ),
    (
        "Chapter {n}: Bravo Operations",
        (
            "Operators of the bravo deployment run the service behind a load balancer. The "
            "{w1} dashboard shows how many documents wait in the queue, how long the last "
            "batch took, and which files failed. A failed file is retried three times with a "
            "growing pause, and then moved to the dead letter folder for a person to inspect.",
            "The {w2} report lists these files every morning. Keep the bravo workers on "
            "separate machines from the search index so that a burst of uploads does not slow "
            "down the people who are searching.",
        ),
    ),
    (
        "Chapter {n}: Charlie Internals",
        (
            "The charlie internals chapter explains how chunks become vectors. The {w1} "
            "encoder turns each chunk into a list of numbers that captures its meaning, so "
            "that a question and a passage about the same topic end up close together.",
            "The {w2} table keeps the text of every chunk next to its vector, which lets the "
            "search page show the matching sentence instead of a bare score. Vectors are "
            "written in batches of one hundred, and a batch is only acknowledged after the "
            "index has stored all of it.",
        ),
    ),
    (
        "Chapter {n}: Delta Maintenance",
        (
            "Routine delta maintenance keeps the index small and fast. Once a week the {w1} "
            "job removes chunks whose source file was deleted, and compacts the segments that "
            "remain. The {w2} check compares the number of chunks in the index with the "
            "number recorded for each document and flags any difference.",
            "Before an upgrade, take a snapshot of the index and of the document store, and "
            "test the new release on a copy. If the upgrade fails, restore both snapshots "
            "together so that they stay consistent.",
        ),
    ),
)

_FIXED_PAGE_WORDS: tuple[tuple[str, str], ...] = (
    ("alphabeacon", "alphameadow"),
    ("bravolantern", "bravoorchard"),
    ("zephyrquartz", "charliemosaic"),
    ("deltaharbor", "deltajuniper"),
)

PAGE3_WORD = "zephyrquartz"
"""The word only page 3 of `multipage_pdf` has."""


def pdf_page_words(pages: int = 4) -> list[tuple[str, str]]:
    """The two unique words of each page of `multipage_pdf(pages)`, page 1 first. Pages 1-4 have
    fixed words (page 3: `zephyrquartz`, `charliemosaic`); page n > 4 has `echo<tag>` and
    `foxtrot<tag>`, tag = n's three digits as letters (page 5: `echoaaf`), so no word is a
    prefix of another's."""
    words = list(_FIXED_PAGE_WORDS[:pages])
    for n in range(5, pages + 1):
        tag = "".join(chr(ord("a") + int(digit)) for digit in f"{n:03d}")
        words.append((f"echo{tag}", f"foxtrot{tag}"))
    return words


def pdf_page_heading(n: int) -> str:
    """The chapter heading of page `n` (1-based) of `multipage_pdf`."""
    return _PAGE_TEMPLATES[(n - 1) % 4][0].format(n=n)


def pdf_page_text(n: int) -> str:
    """The body text of page `n` (1-based) of `multipage_pdf`: its paragraphs, blank-line
    separated, as drawn (before line wrapping)."""
    w1, w2 = pdf_page_words(n)[n - 1]
    paragraphs = _PAGE_TEMPLATES[(n - 1) % 4][1]
    return "\n\n".join(p.format(w1=w1, w2=w2) for p in paragraphs)


def _pdf_string(text: str) -> bytes:
    """A PDF literal string: ASCII with `\\`, `(` and `)` escaped."""
    escaped = text.replace("\\", "\\\\").replace("(", "\\(").replace(")", "\\)")
    return b"(" + escaped.encode("ascii") + b")"


def _pdf_file(objects: Sequence[bytes], root: int, info: int | None = None) -> bytes:
    """A complete PDF 1.4 file: `objects[i]` is the body of object i + 1; a classic xref table
    with each object's byte offset, and a trailer naming the catalog (and Info)."""
    out = bytearray(b"%PDF-1.4\n%\xe2\xe3\xcf\xd3\n")
    offsets = []
    for number, body in enumerate(objects, start=1):
        offsets.append(len(out))
        out += b"%d 0 obj\n" % number + body + b"\nendobj\n"
    xref = len(out)
    out += b"xref\n0 %d\n0000000000 65535 f \n" % (len(objects) + 1)
    for offset in offsets:
        out += b"%010d 00000 n \n" % offset
    trailer = b"/Size %d /Root %d 0 R" % (len(objects) + 1, root)
    if info is not None:
        trailer += b" /Info %d 0 R" % info
    out += b"trailer\n<< " + trailer + b" >>\nstartxref\n%d\n%%%%EOF\n" % xref
    return bytes(out)


def _stream(data: bytes, extra: bytes = b"") -> bytes:
    return b"<< /Length %d%s >>\nstream\n" % (len(data), extra) + data + b"\nendstream"


def _page_content(n: int) -> bytes:
    """Page n's content stream: one text object (BT ... ET) with the heading (page 1 also the
    document title) in Helvetica-Bold and the body in Helvetica 11/15, wrapped at 80 chars."""
    ops = [b"BT", b"72 740 Td"]
    if n == 1:
        ops += [b"/F2 20 Tf", _pdf_string(PDF_TITLE) + b" Tj", b"0 -32 Td"]
    ops += [b"/F2 14 Tf", _pdf_string(pdf_page_heading(n)) + b" Tj", b"0 -26 Td"]
    ops += [b"/F1 11 Tf", b"15 TL"]
    for index, paragraph in enumerate(pdf_page_text(n).split("\n\n")):
        if index:
            ops.append(b"T*")  # a blank line between paragraphs
        for line in textwrap.wrap(paragraph, 80, break_long_words=False, break_on_hyphens=False):
            ops.append(_pdf_string(line) + b" Tj T*")
    ops += [b"ET", b"0.6 G 72 60 m 540 60 l S"]  # and a footer rule, drawn (not text)
    return b"\n".join(ops)


def multipage_pdf(pages: int = 4) -> bytes:
    """A hand-written PDF 1.4 (US Letter, uncompressed content streams, classic xref table)
    titled `Sluice Test Manual` in its Info dictionary. Page 1 starts with that title; every
    page has a heading `Chapter n: ...` and two paragraphs (~450-600 characters of English)
    holding the page's two unique words (`pdf_page_words`): page 1 `alphabeacon`/`alphameadow`
    ("alpha" release), page 2 `bravolantern`/`bravoorchard`, page 3 `zephyrquartz`/
    `charliemosaic`, page 4 `deltaharbor`/`deltajuniper`; later pages repeat the four texts
    with words of their own. Fonts: the standard Type1 Helvetica and Helvetica-Bold
    (WinAnsiEncoding, not embedded), so any reader maps the text back to Unicode.

    Objects are in file order catalog, pages, info, fonts, then page n's page object and its
    content stream: a file cut short loses its last pages first (`truncated_pdf`)."""
    if pages < 1:
        raise ValueError("pages must be >= 1")
    first_page = 6
    kids = b" ".join(b"%d 0 R" % (first_page + 2 * i) for i in range(pages))
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [" + kids + b"] /Count %d >>" % pages,
        b"<< /Title " + _pdf_string(PDF_TITLE) + b" /Producer (sluice tests/testfiles.py) >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica /Encoding /WinAnsiEncoding >>",
        b"<< /Type /Font /Subtype /Type1 /BaseFont /Helvetica-Bold /Encoding /WinAnsiEncoding >>",
    ]
    for i in range(pages):
        content = first_page + 2 * i + 1
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /Font << /F1 4 0 R /F2 5 0 R >> >> /Contents %d 0 R >>" % content
        )
        objects.append(_stream(_page_content(i + 1)))
    return _pdf_file(objects, root=1, info=3)


def _scan_image(width: int, height: int, seed: int) -> bytes:
    """8-bit grey pixels that look like a scanned page at a glance: off-white paper with
    noise, and dark bars where lines of text would be (pixels only: nothing to extract)."""
    rng = random.Random(seed)
    rows = bytearray()
    for y in range(height):
        in_line = 20 <= y < height - 20 and (y % 12) < 6
        line_end = width - 16 - rng.randrange(0, 40) if in_line else 0
        for x in range(width):
            ink = in_line and 16 <= x < line_end and rng.random() < 0.8
            rows.append(rng.randrange(30, 90) if ink else rng.randrange(225, 250))
    return bytes(rows)


def scanned_pdf() -> bytes:
    """A valid 2-page PDF without a text layer, like a scan: each page is one greyscale image
    (a 150x194 pixel "photo" of lines of text, Flate-compressed) scaled over the page, and a
    drawn border rectangle. No fonts, no text operators: a text extractor gets nothing, and
    only OCR could read it."""
    width, height = 150, 194
    objects = [
        b"<< /Type /Catalog /Pages 2 0 R >>",
        b"<< /Type /Pages /Kids [4 0 R 7 0 R] /Count 2 >>",
        b"<< /Title (Scanned letter) /Producer (sluice tests/testfiles.py) >>",
    ]
    for page in range(2):
        first = 4 + 3 * page  # page object, its content stream, its image
        pixels = zlib.compress(_scan_image(width, height, seed=page), 9)
        objects.append(
            b"<< /Type /Page /Parent 2 0 R /MediaBox [0 0 612 792] "
            b"/Resources << /XObject << /Im0 %d 0 R >> >> /Contents %d 0 R >>"
            % (first + 2, first + 1)
        )
        objects.append(_stream(b"q 612 0 0 792 0 0 cm /Im0 Do Q\n0 G 2 w 36 36 540 720 re S"))
        objects.append(
            _stream(
                pixels,
                b" /Type /XObject /Subtype /Image /Width %d /Height %d /ColorSpace /DeviceGray"
                b" /BitsPerComponent 8 /Filter /FlateDecode" % (width, height),
            )
        )
    return _pdf_file(objects, root=1, info=3)


@contextmanager
def _seeded_secrets(seed: int) -> Iterator[None]:
    """pypdf's `secrets.token_bytes` (file IDs, keys, salts, IVs) from a seeded generator, so
    the encrypted test file is the same every run. For test data only: never for real files."""
    rng = random.Random(seed)
    import pypdf._crypt_providers._cryptography as crypt_module
    import pypdf._encryption as encryption_module
    import pypdf._writer as writer_module

    fake = mock.Mock(token_bytes=lambda n: rng.randbytes(n))
    with (
        mock.patch.object(writer_module, "secrets", fake),
        mock.patch.object(encryption_module, "secrets", fake),
        mock.patch.object(crypt_module, "secrets", fake),
    ):
        yield


def encrypted_pdf(algorithm: str = "AES-256") -> bytes:
    """`multipage_pdf()` encrypted by pypdf with the user password `PDF_PASSWORD` (owner
    password `PDF_OWNER_PASSWORD`): without the password no reader can open it or read any
    text. `algorithm`: pypdf's name, "AES-256" (default; pypdf needs `cryptography`, which
    pdfminer.six brings) or "RC4-128". The random parts (file ID, key, salts, IVs) come from a
    seeded generator, so the bytes are the same every run."""
    from pypdf import PdfReader, PdfWriter

    with _seeded_secrets(3):
        writer = PdfWriter(clone_from=PdfReader(io.BytesIO(multipage_pdf())))
        writer.encrypt(PDF_PASSWORD, PDF_OWNER_PASSWORD, algorithm=algorithm)
        out = io.BytesIO()
        writer.write(out)
    return out.getvalue()


TRUNCATED_PDF_FRACTION = 0.5
"""Where `truncated_pdf` cuts by default: half way, inside page 2's content stream."""


def truncated_pdf(fraction: float = TRUNCATED_PDF_FRACTION) -> bytes:
    """`multipage_pdf()` cut after `fraction` of its bytes, as an interrupted upload or copy
    leaves it: by default in the middle of page 2's content stream, so pages 3-4, the xref
    table and the trailer are gone.

    PDFium (pypdfium2 5.x) repairs a missing or broken xref table by scanning the objects, but
    only when it still finds the trailer dictionary: every cut before the end of
    `trailer << ... >>` (2 %, 5 %, 10 %, 15 %, ..., 95 %, and at the start of the trailer)
    fails to open with `pypdfium2.PdfiumError("Failed to load document (PDFium: Data format
    error).")`, `err_code` 3 (FPDF_ERR_FORMAT); a cut after the trailer (losing only
    `startxref` and `%%EOF`) opens with all 4 pages and all their text. pypdf fails on every
    cut tried (15 %, 50 %, 90 %) with `PdfStreamError("Stream has ended unexpectedly")`."""
    data = multipage_pdf()
    return data[: int(len(data) * fraction)]


# ---------------------------------------------------------------------------------------------
# HTML
# ---------------------------------------------------------------------------------------------

ARTICLE_TITLE = "How Sluice Gates Keep Rivers in Check"
"""The article's <h1> (the <title> adds the site's name)."""

ARTICLE_HEADINGS: tuple[tuple[int, str], ...] = (
    (1, ARTICLE_TITLE),
    (2, "A short history of the gate"),
    (3, "Mills and millraces"),
    (2, "How a modern gate works"),
    (3, "Counterweights and motors"),
    (2, "Keeping the gates working"),
)
"""(level, text) of every heading of the article, in order."""

ARTICLE_WORDS: tuple[str, ...] = (
    "articleword",
    "historyword",
    "millraceword",
    "mechanismword",
    "counterweightword",
    "maintenanceword",
)
"""Words of the article's prose: `articleword` in several sections, and one word of each
section (intro, then each heading after the <h1>) in that section only."""

BOILERPLATE_WORDS: tuple[str, ...] = (
    "cookiebannerword",
    "headerword",
    "navbarword",
    "sidebarword",
    "footerword",
    "scriptword",
)
"""Words that appear only in the page's boilerplate: cookie banner, site header, <nav> menu,
sidebar <aside>, <footer>, and inline <script>/<style>."""


def article_html() -> bytes:
    """A news-style web page (UTF-8, `<meta charset="utf-8">`, a <title>): a cookie consent
    banner, a site <header> with a tagline, a <nav> menu, an <article> (an <h1>, a byline,
    <h2>/<h3> sections, ~2,300 characters of prose with `ARTICLE_WORDS`), a sidebar <aside>
    with related links and a newsletter box, a <footer>, and inline <style> and <script>.
    Each of `BOILERPLATE_WORDS` appears only in the boilerplate; a main-text extractor should
    keep `ARTICLE_HEADINGS` and `ARTICLE_WORDS` and drop every boilerplate word."""
    page = f"""<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<meta name="viewport" content="width=device-width, initial-scale=1">
<title>{ARTICLE_TITLE} | Waterways Weekly</title>
<meta name="description" content="Sluice gates, from medieval mills to modern flood defences.">
<meta name="author" content="Maren Holt">
<style>.cookie-banner {{ position: fixed; }} /* scriptword */</style>
</head>
<body>
<div class="cookie-banner" id="cookie-consent">
  <p>We use cookies to improve your experience and to measure our audience
  (cookiebannerword). <a href="/privacy">Learn more</a></p>
  <button type="button">Accept all</button> <button type="button">Reject</button>
</div>
<header class="site-header">
  <a class="logo" href="/">Waterways Weekly</a>
  <p class="tagline">News about rivers, canals and the people who keep them (headerword)</p>
</header>
<nav class="main-nav" aria-label="Main">
  <ul>
    <li><a href="/">Home</a></li>
    <li><a href="/rivers">Rivers</a></li>
    <li><a href="/canals">Canals navbarword</a></li>
    <li><a href="/engineering">Engineering</a></li>
    <li><a href="/subscribe">Subscribe</a></li>
  </ul>
</nav>
<main>
<article>
  <h1>{ARTICLE_TITLE}</h1>
  <p class="byline">By Maren Holt, 12 March 2024</p>
  <p>Few people notice the sluice gates they walk past every day, yet these plain steel and
  timber panels decide how much water a river carries through a town. This articleword
  explains where the gates came from, how they work, and why the crews who look after them
  spend so much of the year out on the water.</p>

  <h2>{ARTICLE_HEADINGS[1][1]}</h2>
  <p>The first gates were simple boards that a miller slid into a slot in a stone channel. By
  lifting the board a little, he let more water reach his wheel; by dropping it, he could
  stop the wheel altogether. Records of such boards go back more than a thousand years, and
  the historyword appears in the oldest surviving accounts of river disputes, where
  neighbours argued over who could hold back the water and for how long.</p>

  <h3>{ARTICLE_HEADINGS[2][1]}</h3>
  <p>A millrace is the channel that carries water from the river to the wheel and back
  again. Because every mill along a river shared the same water, the height of each gate was
  often set by agreement or by law. The millraceword in the town archive records a fine paid
  by a miller who kept his gate closed during a dry summer and left the mills downstream
  without power for a week.</p>

  <h2>{ARTICLE_HEADINGS[3][1]}</h2>
  <p>A modern sluice gate is a heavy panel that moves up and down in grooves set into
  concrete walls. When the gate rises, water flows underneath it; the higher the gate, the
  more water passes. Engineers describe this flow with a simple rule, the mechanismword,
  which ties the flow to the height of the opening and the depth of the water behind the
  gate. The rule lets an operator predict what will happen downstream before the gate moves
  at all, and this articleword returns to it below.</p>

  <h3>{ARTICLE_HEADINGS[4][1]}</h3>
  <p>Large gates weigh many tonnes, so they are balanced by counterweights that hang in the
  towers on either side. The counterweightword on the drawings marks where the cables run
  over their pulleys. With the weight balanced, a small electric motor can raise the gate,
  and a hand crank can still move it slowly if the power fails during a storm.</p>

  <h2>{ARTICLE_HEADINGS[5][1]}</h2>
  <p>Crews inspect the gates every spring and autumn. They clear branches and silt from the
  grooves, grease the pulleys, and check the seals that stop water leaking around the edges.
  The maintenanceword in their logbook lists every part that was replaced, so that the next
  crew knows which gates are due for work. A gate that is looked after in this way can keep
  a river in check for fifty years or more, and this articleword ends with their advice: if
  you see a gate leaking, tell the river authority.</p>
</article>
<aside class="sidebar">
  <h2>Related stories</h2>
  <ul>
    <li><a href="/canals/locks">Inside a canal lock sidebarword</a></li>
    <li><a href="/rivers/floods">Five floods that changed a city</a></li>
    <li><a href="/engineering/weirs">Weirs explained</a></li>
  </ul>
  <div class="newsletter">
    <h3>Get the newsletter</h3>
    <p>A weekly email about rivers. <a href="/subscribe">Sign up</a></p>
  </div>
</aside>
</main>
<footer class="site-footer">
  <p>Copyright 2024 Waterways Weekly. All rights reserved. footerword</p>
  <p><a href="/about">About</a> | <a href="/contact">Contact</a> | <a href="/privacy">Privacy</a>
  | <a href="/terms">Terms</a></p>
</footer>
<script>window.analytics = {{ site: "scriptword", consent: false }};</script>
</body>
</html>
"""
    return page.encode("utf-8")


LATIN1_WORDS: tuple[str, ...] = ("café", "résumé", "naïve", "façade", "crème brûlée")
"""The accented words of `wrong_encoding_html` (as text; the file holds them in Latin-1)."""


def wrong_encoding_html() -> bytes:
    """A small HTML page that declares `<meta charset="utf-8">` but whose bytes are
    ISO-8859-1 (Latin-1): the accented `LATIN1_WORDS` are single bytes such as 0xE9 for "é",
    so a strict UTF-8 decode fails (`UnicodeDecodeError`); a tolerant reader must fall back
    (Latin-1 / cp1252 detection) or replace the bad bytes."""
    words = ", ".join(LATIN1_WORDS)
    page = (
        '<!DOCTYPE html>\n<html lang="fr">\n<head>\n<meta charset="utf-8">\n'
        "<title>Menu du caf\u00e9</title>\n</head>\n<body>\n<h1>Le menu</h1>\n"
        f"<p>Words saved by an old editor in Latin-1: {words}.</p>\n"
        "<p>The rest of this page is plain ASCII, so only the accented letters are "
        "wrong.</p>\n</body>\n</html>\n"
    )
    return page.encode("latin-1")


# ---------------------------------------------------------------------------------------------
# Markdown
# ---------------------------------------------------------------------------------------------

MARKDOWN_TITLE = "Sluice Handbook"
"""The first H1 of `nested_markdown`, the document's title."""

MARKDOWN_SECTIONS: tuple[tuple[tuple[str, ...], str], ...] = (
    (("Sluice Handbook",), "handbookword"),
    (("Install",), "installword"),
    (("Install", "Linux"), "linuxword"),
    (("Install", "Linux", "Debian"), "debianword"),
    (("Install", "macOS"), "macosword"),
    (("Usage",), "usageword"),
    (("Usage", "Searching"), "searchingword"),
)
"""(heading path, the unique word in the paragraph under that heading), in document order."""

MARKDOWN_CODE_WORD = "codeblockword"
"""A word that appears only inside the fenced code block (under Install > Linux > Debian)."""
MARKDOWN_LIST_WORD = "listitemword"
"""A word that appears only in the bullet list (under Usage)."""


def nested_markdown() -> bytes:
    """UTF-8 Markdown with nested ATX headings: `# Sluice Handbook` (the first H1: the title),
    `# Install` > `## Linux` > `### Debian`, `## macOS`, `# Usage` > `## Searching`; under
    each heading a paragraph with that section's unique word (`MARKDOWN_SECTIONS`), a fenced
    code block (under Debian, with `codeblockword`), a bullet list (under Usage, with
    `listitemword`), inline code, emphasis and a link."""
    text = """# Sluice Handbook

This handbook explains how to install and use Sluice. The handbookword marks the
introduction, which says who the handbook is for: anyone who wants to search their own
documents.

# Install

Sluice runs on Linux and macOS. The installword section lists what you need before you
start: Python 3.11 or newer and about two gigabytes of free disk space.

## Linux

On Linux, install the system packages first. The linuxword paragraph applies to every
distribution; the next section has the exact commands for one of them.

### Debian

On Debian, the Linux steps above become two commands. The debianword is here:

```sh
sudo apt-get install python3 python3-venv  # codeblockword
python3 -m venv ~/.sluice && ~/.sluice/bin/pip install sluice
```

## macOS

On macOS, use the Python from the official installer or from Homebrew. The macosword
paragraph also applies to Apple silicon machines.

# Usage

Start the service with `sluice up`, then add documents. The usageword paragraph gives an
overview; the options are:

- `--watch` to follow a folder (a listitemword)
- `--once` to ingest what is there and stop
- `--dry-run` to only list what would be ingested

## Searching

Type a question into the search box and press *Enter*. The searchingword paragraph ends the
handbook; see [the project page](https://example.org/sluice) for more.
"""
    return text.encode("utf-8")


# ---------------------------------------------------------------------------------------------
# DOCX
# ---------------------------------------------------------------------------------------------

DOCX_TITLE = "Sluice Quarterly Report"
"""The core properties' title (docProps/core.xml) of `report_docx`."""
DOCX_TITLE_PARAGRAPH = "Quarterly Report on Ingestion"
"""The text of `report_docx`'s `Title`-style paragraph (deliberately not `DOCX_TITLE`)."""

DOCX_SECTIONS: tuple[tuple[int, str, str], ...] = (
    (1, "Summary", "summaryword"),
    (2, "Throughput", "throughputword"),
    (2, "Errors", "errorsword"),
    (1, "Outlook", "outlookword"),
)
"""(heading level, heading text, unique word of the body paragraphs under it), in order."""

DOCX_TABLE_WORD = "tableword"
"""A word that appears only in the table (under Errors)."""

_ZIP_EPOCH = (1980, 1, 1, 0, 0, 0)


def _normalized_zip(data: bytes) -> bytes:
    """`data`'s zip rewritten with every member dated 1980-01-01 (python-docx stamps the
    current time), in the same order and with the same compression: reproducible bytes."""
    out = io.BytesIO()
    with zipfile.ZipFile(io.BytesIO(data)) as source, zipfile.ZipFile(out, "w") as target:
        for info in source.infolist():
            member = zipfile.ZipInfo(info.filename, date_time=_ZIP_EPOCH)
            member.compress_type = info.compress_type
            member.external_attr = 0o600 << 16
            target.writestr(member, source.read(info.filename), compresslevel=6)
    return out.getvalue()


def report_docx() -> bytes:
    """A DOCX made with python-docx (from its default template): core properties title
    `DOCX_TITLE` (fixed author and dates), a `Title`-style paragraph `DOCX_TITLE_PARAGRAPH`,
    then `Heading 1`/`Heading 2` paragraphs (`DOCX_SECTIONS`) each followed by one or two body
    paragraphs with that section's unique word, a 3x3 table (header row, `tableword` in a
    cell) under Errors, and a bulleted paragraph under Outlook."""
    import datetime

    import docx

    document = docx.Document()
    props = document.core_properties
    props.title = DOCX_TITLE
    props.author = "Sluice tests"
    props.last_modified_by = "Sluice tests"
    props.revision = 1
    fixed = datetime.datetime(2024, 1, 2, 3, 4, 5)
    props.created = fixed
    props.modified = fixed
    props.last_printed = fixed
    document.add_paragraph(DOCX_TITLE_PARAGRAPH, style="Title")
    bodies = {
        "Summary": (
            "This quarter the ingestion service processed every file it was given. The "
            "summaryword paragraph gives the short version for readers in a hurry.",
            "The rest of the report explains the figures section by section.",
        ),
        "Throughput": (
            "The throughputword figures rose by a fifth after the workers moved to larger "
            "machines, while the cost per document stayed the same.",
        ),
        "Errors": (
            "Most failures were files that could not be read. The errorsword table below "
            "lists them by kind.",
        ),
        "Outlook": (
            "Next quarter adds support for more file types. The outlookword paragraph closes "
            "the report.",
        ),
    }
    for level, heading, _word in DOCX_SECTIONS:
        document.add_heading(heading, level=level)
        for text in bodies[heading]:
            document.add_paragraph(text)
        if heading == "Errors":
            table = document.add_table(rows=3, cols=3)
            rows = (
                ("Kind", "Files", "Share"),
                ("Encrypted PDF", "12", "40 %"),
                (f"Corrupt archive {DOCX_TABLE_WORD}", "18", "60 %"),
            )
            for row, values in zip(table.rows, rows, strict=True):
                for cell, value in zip(row.cells, values, strict=True):
                    cell.text = value
        if heading == "Outlook":
            document.add_paragraph("Markdown and HTML pages first.", style="List Bullet")
    out = io.BytesIO()
    document.save(out)
    return _normalized_zip(out.getvalue())


def corrupt_docx() -> bytes:
    """`report_docx()` cut in the middle (the first half of its bytes): the local headers of
    the first members are there, the central directory and the end-of-central-directory
    record are not, so `zipfile` raises `BadZipFile` ("File is not a zip file")."""
    data = report_docx()
    return data[: len(data) // 2]


_CONTENT_TYPES = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Types xmlns="http://schemas.openxmlformats.org/package/2006/content-types">'
    b'<Default Extension="rels" '
    b'ContentType="application/vnd.openxmlformats-package.relationships+xml"/>'
    b'<Default Extension="xml" ContentType="application/xml"/>'
    b'<Override PartName="/word/document.xml" ContentType="application/'
    b'vnd.openxmlformats-officedocument.wordprocessingml.document.main+xml"/>'
    b"</Types>"
)
_RELS = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<Relationships xmlns="http://schemas.openxmlformats.org/package/2006/relationships">'
    b'<Relationship Id="rId1" Type="http://schemas.openxmlformats.org/officeDocument/2006/'
    b'relationships/officeDocument" Target="word/document.xml"/>'
    b"</Relationships>"
)
_W_NS = b"http://schemas.openxmlformats.org/wordprocessingml/2006/main"
_BOMB_HEAD = (
    b'<?xml version="1.0" encoding="UTF-8" standalone="yes"?>\n'
    b'<w:document xmlns:w="' + _W_NS + b'"><w:body><w:p><w:r><w:t>zip bomb</w:t></w:r></w:p>'
)
# An empty paragraph, repeated: a 6-byte period deflates at ~690:1 (one byte repeated would
# reach deflate's ~1030:1, but as whitespace it would not be paragraphs for a parser to build).
_BOMB_PARAGRAPH = b"<w:p/>"
_BOMB_TAIL = b"</w:body></w:document>"

ZIP_BOMB_SIZE = 1 << 30
"""At least this many bytes (1 GiB) is what the zip bombs' word/document.xml expands to."""
LYING_DECLARED_SIZE = 4096
"""The uncompressed size `lying_zip_bomb_docx` declares for word/document.xml."""


def _bomb_document_chunks(size: int) -> Iterator[bytes]:
    """word/document.xml of at least `size` bytes, in ~1 MiB pieces: a valid WordprocessingML
    document of one repeated paragraph."""
    piece = _BOMB_PARAGRAPH * ((1 << 20) // len(_BOMB_PARAGRAPH))
    yield _BOMB_HEAD
    written = len(_BOMB_HEAD) + len(_BOMB_TAIL)
    while written < size:
        yield piece
        written += len(piece)
    yield _BOMB_TAIL


def zip_bomb_docx(size: int = ZIP_BOMB_SIZE) -> bytes:
    """A DOCX-shaped zip ([Content_Types].xml, _rels/.rels, word/document.xml) whose
    word/document.xml is a valid document: one paragraph "zip bomb", then empty paragraphs
    `<w:p/>` until it is >= `size` bytes (default 1 GiB: ~179 million paragraphs), DEFLATE
    level 9, streamed through `zipfile` in 1 MiB pieces (never in memory whole). Honest: the
    central directory declares the real sizes (below 2 GiB, so no ZIP64) and the real CRC-32;
    the file is ~1/690 of `size` (1.5 MB for 1 GiB). A reader that checks the declared
    `file_size` against a limit before inflating stops it. Building takes ~3 s (deflating
    1 GiB), so the bytes are cached per process."""
    return _zip_bomb(size)


@functools.lru_cache(maxsize=2)
def _zip_bomb(size: int) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w", zipfile.ZIP_DEFLATED, compresslevel=9) as archive:
        for name, data in (("[Content_Types].xml", _CONTENT_TYPES), ("_rels/.rels", _RELS)):
            archive.writestr(zipfile.ZipInfo(name, date_time=_ZIP_EPOCH), data)
        info = zipfile.ZipInfo("word/document.xml", date_time=_ZIP_EPOCH)
        info.compress_type = zipfile.ZIP_DEFLATED
        with archive.open(info, "w") as member:
            for chunk in _bomb_document_chunks(size):
                member.write(chunk)
    return out.getvalue()


def _patch_declared_size(data: bytes, name: str, declared: int) -> bytes:
    """`data` (a zip without ZIP64 records) with the uncompressed size of member `name`
    replaced by `declared` in its local file header and its central directory entry."""
    patched = bytearray(data)
    (cd_size, cd_offset) = struct.unpack_from("<II", data, data.rindex(b"PK\x05\x06") + 12)
    position, found = cd_offset, False
    while position < cd_offset + cd_size:
        assert data[position : position + 4] == b"PK\x01\x02"
        name_len, extra_len, comment_len = struct.unpack_from("<HHH", data, position + 28)
        (local_offset,) = struct.unpack_from("<I", data, position + 42)
        if data[position + 46 : position + 46 + name_len] == name.encode():
            struct.pack_into("<I", patched, position + 24, declared)  # central: uncompressed
            assert data[local_offset : local_offset + 4] == b"PK\x03\x04"
            struct.pack_into("<I", patched, local_offset + 22, declared)  # local: uncompressed
            found = True
        position += 46 + name_len + extra_len + comment_len
    if not found:
        raise KeyError(name)
    return bytes(patched)


def lying_zip_bomb_docx(size: int = ZIP_BOMB_SIZE) -> bytes:
    """`zip_bomb_docx(size)` with word/document.xml's uncompressed size patched to
    `LYING_DECLARED_SIZE` (4 KiB) in both its local file header (offset 22) and its central
    directory entry (offset 24). The compressed size, the deflate stream and the CRC-32 are
    unchanged: the CRC is still that of the real >= 1 GiB content, so it matches neither the
    declared 4 KiB nor any prefix of the content (deliberately left so: irrelevant here).

    What readers make of it: a check of the declared size passes (4 KiB); a reader that
    inflates the stream to its end gets >= 1 GiB. Python's `zipfile`: `ZipFile.read(name)` or
    `open(name).read()` inflates up to 2 GiB in one call before cutting to the declared 4 KiB,
    so it holds the whole 1 GiB (python-docx: ~2 GB peak memory, ~7 s) and then raises
    `BadZipFile("Bad CRC-32 for file 'word/document.xml'")`; reading `open(name)` in bounded
    chunks (`read(65536)`) inflates one chunk and raises the same error at once.
    Only a reader that bounds the bytes it inflates is safe against both bombs."""
    return _patch_declared_size(_zip_bomb(size), "word/document.xml", LYING_DECLARED_SIZE)
