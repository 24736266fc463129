"""Text extraction libraries side by side, per file format, on the generated test files of
`tests/testfiles.py`: speed (median of interleaved runs), quality (known words on the right
page, boilerplate dropped, headings found), behaviour on broken files, import time and licence.

    uv run --frozen python bench/extraction.py            # full: ~40 s
    uv run --frozen python bench/extraction.py --smoke    # each once, small files only (CI)
    uv run --frozen python bench/extraction.py --bombs    # and the DOCX zip bombs: +3 min

Candidates:
- PDF: pypdfium2 (`get_textpage().get_text_bounded()` per page) vs pypdf (`extract_text()`)
  vs pdfminer.six (`extract_pages`, the text containers of each page); on `multipage_pdf()`
  (4 pages) and `multipage_pdf(pages=100)`.
- HTML: trafilatura (`extract(..., output_format="markdown", include_formatting=True,
  include_comments=False, favor_precision=True)`, and `bare_extraction(...,
  output_format="python", with_metadata=True)` for the title too) vs selectolax/lexbor (body
  text without nav/header/footer/aside/script/style/noscript) vs lxml (`text_content()`).
- DOCX: python-docx (paragraphs with style names, tables, core properties) vs mammoth
  (`convert_to_html`, and `extract_raw_text`).
- Markdown: markdown-it-py (CommonMark tokens; headings with their source line `map`).

Each timed call extracts the whole file from its bytes. The candidates of a table run in turn,
the order rotated every round, so machine noise hits all alike; the first call of each is a
warm-up (not timed) and gives the quality figures. "x fastest" is median time / the fastest
median. No assertions: it prints, and the load average at start and end tells whether the
machine was busy. `--bombs` opens the zip bombs with each DOCX library in a child process
limited to 4 GiB of address space and 120 s, and prints outcome, time and peak memory.
"""

from __future__ import annotations

import argparse
import functools
import gc
import importlib.metadata
import io
import json
import logging
import os
import platform
import re
import resource
import statistics
import subprocess
import sys
import time
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from tests import testfiles  # noqa: E402

TRAFILATURA_OPTIONS: dict[str, Any] = {
    "output_format": "markdown",
    "include_formatting": True,
    "include_comments": False,
    "favor_precision": True,
}
BOILERPLATE_TAGS = ["nav", "header", "footer", "aside", "script", "style", "noscript"]


def say(line: str = "") -> None:
    print(line, flush=True)


def words_of(text: str) -> set[str]:
    return set(re.findall(r"\w+", text))


# --- PDF ---------------------------------------------------------------------------------------


def pdf_pypdfium2(data: bytes) -> list[str]:
    import pypdfium2 as pdfium

    document = pdfium.PdfDocument(data)
    try:
        texts = []
        for index in range(len(document)):
            page = document[index]
            textpage = page.get_textpage()
            texts.append(textpage.get_text_bounded())
            textpage.close()
            page.close()
        return texts
    finally:
        document.close()


def pdf_pypdf(data: bytes) -> list[str]:
    from pypdf import PdfReader

    return [page.extract_text() for page in PdfReader(io.BytesIO(data)).pages]


def pdf_pdfminer(data: bytes) -> list[str]:
    from pdfminer.high_level import extract_pages
    from pdfminer.layout import LTTextContainer

    return [
        "".join(element.get_text() for element in layout if isinstance(element, LTTextContainer))
        for layout in extract_pages(io.BytesIO(data))
    ]


def pdf_title(library: str, data: bytes) -> str | None:
    """The Info dictionary's /Title as each library reads it (untimed)."""
    if library == "pypdfium2":
        import pypdfium2 as pdfium

        return pdfium.PdfDocument(data).get_metadata_dict().get("Title") or None
    if library == "pypdf":
        from pypdf import PdfReader

        metadata = PdfReader(io.BytesIO(data)).metadata
        return metadata.title if metadata else None
    from pdfminer.pdfdocument import PDFDocument
    from pdfminer.pdfparser import PDFParser

    info = PDFDocument(PDFParser(io.BytesIO(data))).info
    title = info[0].get("Title") if info else None
    return title.decode("latin-1") if isinstance(title, bytes) else None


PDF_LIBRARIES: dict[str, Callable[[bytes], list[str]]] = {
    "pypdfium2": pdf_pypdfium2,
    "pypdf": pdf_pypdf,
    "pdfminer.six": pdf_pdfminer,
}


def pdf_quality(texts: list[str], pages: int) -> str:
    """Pages whose two words are on them and on no other page; headings found on their page."""
    expected = testfiles.pdf_page_words(pages)
    page_words = [words_of(text) for text in texts]
    right = 0
    for number, words in enumerate(expected):
        elsewhere = any(w in page_words[i] for i in range(len(texts)) if i != number for w in words)
        if len(texts) > number and all(w in page_words[number] for w in words) and not elsewhere:
            right += 1
    headings = sum(
        1
        for n in range(1, pages + 1)
        if len(texts) >= n and testfiles.pdf_page_heading(n) in texts[n - 1]
    )
    return f"words on their page {right}/{pages}, headings {headings}/{pages}"


def pdf_outcome(function: Callable[[bytes], list[str]], data: bytes) -> str:
    try:
        texts = function(data)
    except Exception as error:
        return f"{type(error).__module__}.{type(error).__name__}: {str(error)[:90]}"
    chars = sum(len(text.strip()) for text in texts)
    return f"opens, {len(texts)} pages, {chars} chars of text"


def pdf_with_password(library: str, data: bytes) -> str:
    password = testfiles.PDF_PASSWORD
    try:
        if library == "pypdfium2":
            import pypdfium2 as pdfium

            document = pdfium.PdfDocument(data, password=password)
            text = document[2].get_textpage().get_text_bounded()
        elif library == "pypdf":
            from pypdf import PdfReader

            reader = PdfReader(io.BytesIO(data))
            reader.decrypt(password)
            text = reader.pages[2].extract_text()
        else:
            from pdfminer.high_level import extract_text

            text = extract_text(io.BytesIO(data), password=password, page_numbers=[2])
    except Exception as error:
        return f"{type(error).__name__}: {str(error)[:80]}"
    return "page 3 read" if testfiles.PAGE3_WORD in text else "opens, page 3 text missing"


# --- HTML --------------------------------------------------------------------------------------


def html_trafilatura(data: bytes) -> str:
    import trafilatura

    return trafilatura.extract(data, **TRAFILATURA_OPTIONS) or ""


def html_trafilatura_metadata(data: bytes) -> str:
    import trafilatura

    options = {**TRAFILATURA_OPTIONS, "output_format": "python", "with_metadata": True}
    document = trafilatura.bare_extraction(data, **options)
    if document is None:
        return ""
    return f"title: {getattr(document, 'title', None)}\n\n{getattr(document, 'text', '')}"


def html_selectolax(data: bytes) -> str:
    from selectolax.lexbor import LexborHTMLParser

    tree = LexborHTMLParser(data)
    title = tree.css_first("title")
    tree.strip_tags(BOILERPLATE_TAGS)
    body = tree.body.text(separator="\n", strip=True) if tree.body else ""
    return f"title: {title.text() if title else ''}\n\n{body}"


def html_lxml(data: bytes) -> str:
    import lxml.html

    root = lxml.html.fromstring(data)
    body = root.find("body")
    text = (body if body is not None else root).text_content()
    return f"title: {root.findtext('.//title')}\n\n{text}"


HTML_LIBRARIES: dict[str, Callable[[bytes], str]] = {
    "trafilatura": html_trafilatura,
    "trafilatura+meta": html_trafilatura_metadata,
    "selectolax": html_selectolax,
    "lxml": html_lxml,
}
HTML_DISTRIBUTION = {"trafilatura+meta": "trafilatura"}


def html_quality(text: str) -> str:
    found = words_of(text)
    article = sum(word in found for word in testfiles.ARTICLE_WORDS)
    kept = [word for word in testfiles.BOILERPLATE_WORDS if word in found]
    headings = sum(heading in text for _level, heading in testfiles.ARTICLE_HEADINGS)
    levels = sum(
        f"{'#' * level} {heading}" in text for level, heading in testfiles.ARTICLE_HEADINGS
    )
    title = re.search(r"^title: (.*)$", text, flags=re.MULTILINE)
    return (
        f"article words {article}/{len(testfiles.ARTICLE_WORDS)}, "
        f"headings {headings}/{len(testfiles.ARTICLE_HEADINGS)} (with level {levels}), "
        f"boilerplate kept {len(kept)}/{len(testfiles.BOILERPLATE_WORDS)}"
        + (f" {kept}" if kept else "")
        + (f", title {title.group(1)!r}" if title else "")
    )


def html_latin1(function: Callable[[bytes], str], data: bytes) -> str:
    try:
        text = function(data)
    except Exception as error:
        return f"{type(error).__name__}: {str(error)[:80]}"
    match = re.search(r"Latin-1: (.*?)\.", text)
    return repr(match.group(1)) if match else f"no text ({len(text)} chars)"


# --- DOCX --------------------------------------------------------------------------------------


@dataclass
class DocxResult:
    text: str
    headings: list[tuple[int, str]]  # level, text; level 0: unknown (plain text)
    title: str | None


def docx_python_docx(data: bytes) -> DocxResult:
    import docx
    from docx.table import Table

    document = docx.Document(io.BytesIO(data))
    parts: list[str] = []
    headings: list[tuple[int, str]] = []
    for block in document.iter_inner_content():
        if isinstance(block, Table):
            parts.extend(" | ".join(cell.text for cell in row.cells) for row in block.rows)
            continue
        style = block.style.name if block.style is not None else ""
        if style.startswith("Heading ") and style[8:].isdigit():
            headings.append((int(style[8:]), block.text))
        parts.append(block.text)
    return DocxResult("\n".join(parts), headings, document.core_properties.title or None)


def docx_mammoth_html(data: bytes) -> DocxResult:
    import mammoth

    html = mammoth.convert_to_html(io.BytesIO(data)).value
    headings = [
        (int(level), re.sub(r"<[^>]+>", "", text))
        for level, text in re.findall(r"<h([1-6])>(.*?)</h\1>", html)
    ]
    return DocxResult(re.sub(r"<[^>]+>", " ", html), headings, None)


def docx_mammoth_raw(data: bytes) -> DocxResult:
    import mammoth

    text = mammoth.extract_raw_text(io.BytesIO(data)).value
    lines = {line.strip() for line in text.splitlines()}
    headings = [(0, heading) for _l, heading, _w in testfiles.DOCX_SECTIONS if heading in lines]
    return DocxResult(text, headings, None)


DOCX_LIBRARIES: dict[str, Callable[[bytes], DocxResult]] = {
    "python-docx": docx_python_docx,
    "mammoth-html": docx_mammoth_html,
    "mammoth-raw": docx_mammoth_raw,
}
DOCX_DISTRIBUTION = {"mammoth-html": "mammoth", "mammoth-raw": "mammoth"}


def docx_quality(result: DocxResult) -> str:
    found = words_of(result.text)
    sections = testfiles.DOCX_SECTIONS
    words = sum(word in found for _l, _h, word in sections)
    expected = [(level, heading) for level, heading, _w in sections]
    with_level = sum(pair in result.headings for pair in expected)
    as_text = sum(heading in {h for _l, h in result.headings} for _l, heading in expected)
    return (
        f"section words {words}/{len(sections)}, table word "
        f"{'yes' if testfiles.DOCX_TABLE_WORD in found else 'no'}, headings {as_text}/"
        f"{len(sections)} (with level {with_level}), Title paragraph "
        f"{'yes' if testfiles.DOCX_TITLE_PARAGRAPH in result.text else 'no'}, "
        f"core title {result.title!r}"
    )


def docx_outcome(function: Callable[[bytes], DocxResult], data: bytes) -> str:
    try:
        result = function(data)
    except Exception as error:
        return f"{type(error).__module__}.{type(error).__name__}: {str(error)[:80]}"
    return f"opens, {len(result.text)} chars"


# --- Markdown ----------------------------------------------------------------------------------


def markdown_it(data: bytes) -> list[Any]:
    from markdown_it import MarkdownIt

    return MarkdownIt("commonmark").parse(data.decode("utf-8"))


def markdown_quality(tokens: list[Any], data: bytes) -> str:
    lines = data.decode("utf-8").splitlines()
    headings = []  # (level, text, first line)
    for index, token in enumerate(tokens):
        if token.type == "heading_open" and token.map:
            headings.append((int(token.tag[1]), tokens[index + 1].content, token.map[0]))
    expected = [(len(path), path[-1]) for path, _word in testfiles.MARKDOWN_SECTIONS]
    right = sum((level, text) in expected for level, text, _line in headings)
    placed = 0
    for number, ((_path, word), (_lvl, _txt, start)) in enumerate(
        zip(testfiles.MARKDOWN_SECTIONS, headings, strict=False)
    ):
        end = headings[number + 1][2] if number + 1 < len(headings) else len(lines)
        placed += word in " ".join(lines[start:end])
    fences = [token.info for token in tokens if token.type == "fence"]
    return (
        f"headings with level and line map {right}/{len(expected)}, section words under their "
        f"heading {placed}/{len(expected)}, code fences {fences}, title {headings[0][1]!r}"
    )


# --- timing, licences, imports -----------------------------------------------------------------


def interleaved(calls: Mapping[str, Callable[[], object]], runs: int) -> dict[str, float]:
    """Median seconds per call: `runs` rounds, each calling every candidate once, the order
    rotated each round."""
    samples: dict[str, list[float]] = {name: [] for name in calls}
    names = list(calls)
    for round_ in range(runs):
        shift = round_ % len(names)
        for name in names[shift:] + names[:shift]:
            gc.collect()
            start = time.perf_counter()
            calls[name]()
            samples[name].append(time.perf_counter() - start)
    return {name: statistics.median(values) for name, values in samples.items()}


def speed_table(
    title: str,
    medians: dict[str, float],
    quality: dict[str, str],
    size: int,
    pages: int | None = None,
) -> None:
    fastest = min(medians.values())
    say(f"\n{title}")
    unit = "pages/s" if pages else "docs/s"
    say(f"  {'library':<17}{'median ms':>10}{unit:>10}{'MB/s':>9}{'x fastest':>10}  quality")
    for name, seconds in medians.items():
        rate = (pages or 1) / seconds
        megabytes = size / seconds / 1e6
        say(
            f"  {name:<17}{seconds * 1e3:>10.2f}{rate:>10.1f}{megabytes:>9.2f}"
            f"{seconds / fastest:>10.2f}  {quality[name]}"
        )


def licence(distribution: str) -> str:
    metadata = importlib.metadata.metadata(distribution)
    expression = metadata.get_all("License-Expression") or []
    if expression:
        return str(expression[0])
    text = str((metadata.get_all("License") or [""])[0]).strip()
    classifiers = [
        c.split(" :: ")[-1] for c in metadata.get_all("Classifier") or [] if c.startswith("License")
    ]
    if text and len(text) <= 80 and "\n" not in text:
        return text
    if classifiers:
        return ", ".join(classifiers)
    return (text.splitlines()[0][:40] + "...") if text else "unknown"


def dependencies(distribution: str) -> list[str]:
    """The installed distributions `distribution` needs (no extras), transitively, sorted."""
    from packaging.requirements import Requirement

    seen: set[str] = set()
    todo = [distribution]
    while todo:
        for spec in importlib.metadata.requires(todo.pop()) or []:
            requirement = Requirement(spec)
            if requirement.marker and not requirement.marker.evaluate({"extra": ""}):
                continue
            name = requirement.name
            if name.lower() not in {s.lower() for s in seen}:
                seen.add(name)
                todo.append(name)
    return sorted(seen, key=str.lower)


DISTRIBUTIONS = {
    "pypdfium2": "pypdfium2",
    "pypdf": "pypdf",
    "pdfminer.six": "pdfminer.six",
    "trafilatura": "trafilatura",
    "selectolax": "selectolax",
    "lxml": "lxml",
    "python-docx": "python-docx",
    "mammoth": "mammoth",
    "markdown-it-py": "markdown-it-py",
}
IMPORTS = {
    "pypdfium2": "import pypdfium2",
    "pypdf": "import pypdf",
    "pdfminer.six": "import pdfminer.high_level, pdfminer.layout",
    "trafilatura": "import trafilatura",
    "selectolax": "import selectolax.lexbor",
    "lxml": "import lxml.html",
    "python-docx": "import docx",
    "mammoth": "import mammoth",
    "markdown-it-py": "import markdown_it",
}


def import_seconds(statement: str, runs: int) -> float:
    """Median seconds a fresh interpreter takes to run `statement` (cold-start cost)."""
    code = f"import time; t = time.perf_counter(); {statement}; print(time.perf_counter() - t)"
    times = [
        float(subprocess.run([sys.executable, "-c", code], capture_output=True, text=True).stdout)
        for _ in range(runs)
    ]
    return statistics.median(times)


def libraries_table(runs: int) -> None:
    say("\nLibraries: version, licence (installed metadata), import time in a fresh interpreter")
    for name, distribution in DISTRIBUTIONS.items():
        version = importlib.metadata.version(distribution)
        seconds = import_seconds(IMPORTS[name], runs)
        deps = dependencies(distribution)
        brought = ", ".join(f"{dep} ({licence(dep)})" for dep in deps) if deps else "nothing"
        say(f"  {name:<15}{version:<10}import {seconds * 1e3:4.0f} ms  {licence(distribution)}")
        say(f"  {'':<15}needs: {brought}")


# --- zip bombs (child processes) ---------------------------------------------------------------

BOMB_MEMORY_LIMIT = 4 << 30


def bomb_child(library: str, kind: str) -> None:
    data = testfiles.zip_bomb_docx() if kind == "honest" else testfiles.lying_zip_bomb_docx()
    resource.setrlimit(resource.RLIMIT_AS, (BOMB_MEMORY_LIMIT, BOMB_MEMORY_LIMIT))
    start = time.perf_counter()
    try:
        outcome = docx_outcome(DOCX_LIBRARIES[library], data)
    except MemoryError:
        outcome = "MemoryError"
    seconds = time.perf_counter() - start
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024  # Linux: KiB
    print(json.dumps({"outcome": outcome, "seconds": seconds, "peak": peak}))


def bombs_table() -> None:
    say(f"\nDOCX zip bombs: each library in a child limited to {BOMB_MEMORY_LIMIT >> 30} GiB")
    for kind, make in (
        ("honest", testfiles.zip_bomb_docx),
        ("lying", testfiles.lying_zip_bomb_docx),
    ):
        say(f"  {kind} ({len(make()) / 1e6:.1f} MB file):")
        for library in ("python-docx", "mammoth-raw"):
            command = [sys.executable, __file__, "--bomb-child", library, kind]
            with subprocess.Popen(command, stdout=subprocess.PIPE, text=True) as child:
                try:
                    out, _ = child.communicate(timeout=120)
                except subprocess.TimeoutExpired:
                    child.kill()
                    say(f"    {library:<13} still running after 120 s: killed")
                    continue
            try:
                result = json.loads(out.strip().splitlines()[-1])
                outcome = (
                    f"{result['outcome']} after {result['seconds']:.1f} s, "
                    f"peak RSS {result['peak'] / 1e9:.2f} GB"
                )
            except (IndexError, ValueError):
                outcome = f"died (exit {child.returncode})"
            say(f"    {library:<13} {outcome}")


# --- main --------------------------------------------------------------------------------------


def run_pdf(smoke: bool, runs_small: int, runs_big: int) -> None:
    files = [("multipage_pdf()", testfiles.multipage_pdf(), 4, runs_small)]
    if not smoke:
        big = testfiles.multipage_pdf(pages=100)
        files.append(("multipage_pdf(pages=100)", big, 100, runs_big))
    for label, data, pages, runs in files:
        quality = {}
        for name, extract in PDF_LIBRARIES.items():
            title = pdf_title(name, data)
            quality[name] = f"{pdf_quality(extract(data), pages)}, title {title!r}"
        calls = {name: functools.partial(extract, data) for name, extract in PDF_LIBRARIES.items()}
        medians = interleaved(calls, runs)
        title = f"PDF {label}: {pages} pages, {len(data)} bytes"
        speed_table(title, medians, quality, len(data), pages)
    say("\nPDF broken files (no password given):")
    broken = (
        ("scanned_pdf()", testfiles.scanned_pdf()),
        ("encrypted_pdf() AES-256", testfiles.encrypted_pdf()),
        ("encrypted_pdf('RC4-128')", testfiles.encrypted_pdf("RC4-128")),
        ("truncated_pdf() at 50%", testfiles.truncated_pdf()),
        ("truncated_pdf(0.15)", testfiles.truncated_pdf(0.15)),
    )
    for label, data in broken:
        say(f"  {label}")
        for name, extract in PDF_LIBRARIES.items():
            say(f"    {name:<13} {pdf_outcome(extract, data)}")
    say("  encrypted_pdf() with the password:")
    for name in PDF_LIBRARIES:
        say(f"    {name:<13} {pdf_with_password(name, testfiles.encrypted_pdf())}")


def run_html(runs: int) -> None:
    data = testfiles.article_html()
    quality = {name: html_quality(extract(data)) for name, extract in HTML_LIBRARIES.items()}
    calls = {name: functools.partial(extract, data) for name, extract in HTML_LIBRARIES.items()}
    medians = interleaved(calls, runs)
    speed_table(f"HTML article_html(): {len(data)} bytes", medians, quality, len(data))
    say(f"  trafilatura options: {TRAFILATURA_OPTIONS}")
    latin1 = testfiles.wrong_encoding_html()
    say(
        "  wrong_encoding_html() (Latin-1 bytes, declared UTF-8; the words are "
        f"{', '.join(testfiles.LATIN1_WORDS)}):"
    )
    for name, extract in HTML_LIBRARIES.items():
        say(f"    {name:<17} {html_latin1(extract, latin1)}")


def run_docx(runs: int) -> None:
    data = testfiles.report_docx()
    quality = {name: docx_quality(extract(data)) for name, extract in DOCX_LIBRARIES.items()}
    calls = {name: functools.partial(extract, data) for name, extract in DOCX_LIBRARIES.items()}
    medians = interleaved(calls, runs)
    speed_table(f"DOCX report_docx(): {len(data)} bytes", medians, quality, len(data))
    say("  corrupt_docx():")
    for name, extract in DOCX_LIBRARIES.items():
        say(f"    {name:<13} {docx_outcome(extract, testfiles.corrupt_docx())}")


def run_markdown(smoke: bool, runs_small: int, runs_big: int) -> None:
    data = testfiles.nested_markdown()
    quality = {"markdown-it-py": markdown_quality(markdown_it(data), data)}
    medians = interleaved({"markdown-it-py": functools.partial(markdown_it, data)}, runs_small * 5)
    speed_table(f"Markdown nested_markdown(): {len(data)} bytes", medians, quality, len(data))
    if not smoke:
        big = data * 200
        medians = interleaved({"markdown-it-py": functools.partial(markdown_it, big)}, runs_big)
        label = f"Markdown nested_markdown() x 200: {len(big)} bytes"
        speed_table(label, medians, {"markdown-it-py": "(speed only)"}, len(big))


def run(smoke: bool, bombs: bool) -> None:
    logging.getLogger("pypdf").setLevel(logging.ERROR)  # "EOF marker not found" on cut files
    logging.getLogger("pdfminer").setLevel(logging.ERROR)
    runs_small, runs_big = (1, 0) if smoke else (21, 5)
    say(
        f"Extraction benchmark ({'smoke' if smoke else 'full'}): Python "
        f"{platform.python_version()}, {os.cpu_count()} CPUs, "
        f"load average at start {os.getloadavg()}"
    )
    libraries_table(runs=1 if smoke else 3)

    run_pdf(smoke, runs_small, runs_big)
    run_html(runs_small)
    run_docx(runs_small)
    run_markdown(smoke, runs_small, runs_big)
    if bombs:
        bombs_table()
    say(f"\nload average at end {os.getloadavg()}")


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--smoke", action="store_true", help="each candidate once, small files")
    parser.add_argument("--bombs", action="store_true", help="also open the DOCX zip bombs")
    parser.add_argument(
        "--bomb-child", nargs=2, metavar=("LIBRARY", "KIND"), help=argparse.SUPPRESS
    )
    args = parser.parse_args()
    if args.bomb_child:
        bomb_child(*args.bomb_child)
        return
    run(args.smoke, args.bombs)


if __name__ == "__main__":
    main()
