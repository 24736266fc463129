"""`sluice ingest` of a folder of mixed files, end to end: wall time, documents/s, and the share
of transform's time that went to extracting text from the files.

Starts a private stack (temporary folder, free ports; always stopped), writes N files — PDF,
HTML, Markdown, text and DOCX in equal parts, each with bytes of its own (made from
tests/testfiles.py) — runs the real `sluice ingest FOLDER --recursive --wait` against searchapi,
then reads transform's /metrics: the seconds spent in extraction (per format) against the
seconds transform spent handling deliveries. Run twice, the second `sluice ingest` shows the
resume: every file `unchanged`.

    uv run --frozen python bench/ingest_folder.py [--files 500] [--embedder hashing] [--quick]
"""

from __future__ import annotations

import argparse
import io
import os
import re
import subprocess
import sys
import tempfile
import time
from pathlib import Path

import docx
import httpx

ROOT = Path(__file__).resolve().parent.parent
if str(ROOT) not in sys.path:  # run as a script (`python bench/...`): make `dev` importable
    sys.path.insert(0, str(ROOT))

from bench.common import DEFAULT_MODEL, EMBEDDERS, load_average, running_stack, say, use_embedder  # noqa: E402
from tests import testfiles  # noqa: E402

SLUICE = ROOT / ".venv" / "bin" / "sluice"
FORMATS = ("pdf", "html", "md", "txt", "docx")


def make_file(kind: str, number: int) -> bytes:
    """A file of `kind` whose bytes are its own (a unique word in it)."""
    word = f"uniqueword{number:05d}"
    if kind == "pdf":  # a few pages, then a comment after %%EOF (PDFium ignores it)
        return testfiles.multipage_pdf(pages=2 + number % 4) + f"\n% {word}\n".encode()
    if kind == "html":
        return testfiles.article_html().replace(
            b"</article>", f"<p>This copy is {word}.</p></article>".encode()
        )
    if kind == "md":
        return testfiles.nested_markdown() + f"\n\n## Copy\n\nThis copy is {word}.\n".encode()
    if kind == "txt":
        text = testfiles.pdf_page_text(1 + number % 4)
        return f"{text}\n\nThis copy is {word}.\n".encode()
    document = docx.Document(io.BytesIO(testfiles.report_docx()))
    document.add_heading("Copy", level=1)
    document.add_paragraph(f"This copy is {word}.")
    out = io.BytesIO()
    document.save(out)
    return out.getvalue()


def write_folder(folder: Path, count: int) -> int:
    """`count` files in subfolders by format; their total size."""
    total = 0
    for number in range(count):
        kind = FORMATS[number % len(FORMATS)]
        path = folder / kind / f"file-{number:05d}.{kind}"
        path.parent.mkdir(parents=True, exist_ok=True)
        data = make_file(kind, number)
        path.write_bytes(data)
        total += len(data)
    return total


def run_cli(url: str, folder: Path, tenant: str, concurrency: int) -> tuple[float, str]:
    """`sluice ingest` of the folder with --wait: (wall seconds, its last lines)."""
    started = time.perf_counter()
    done = subprocess.run(
        [
            str(SLUICE),
            "ingest",
            str(folder),
            "--recursive",
            "--wait",
            "--tenant",
            tenant,
            "--concurrency",
            str(concurrency),
        ],
        env={**os.environ, "SLUICE_URL": url},
        capture_output=True,
        text=True,
        check=False,
    )
    wall = time.perf_counter() - started
    tail = "\n".join(done.stdout.strip().splitlines()[-8:])  # the summary (stderr: each file)
    if done.returncode != 0:
        raise SystemExit(f"sluice ingest exited {done.returncode}:\n{tail}")
    return wall, tail


def metric_sums(metrics: str, name: str) -> dict[str, float]:
    """`<name>_sum` by its label set, from a Prometheus text page."""
    sums: dict[str, float] = {}
    for match in re.finditer(rf"^{name}_sum\{{([^}}]*)\}} (\S+)$", metrics, re.M):
        sums[match.group(1)] = sums.get(match.group(1), 0.0) + float(match.group(2))
    return sums


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--files", type=int, default=500)
    parser.add_argument("--embedder", choices=EMBEDDERS, default=DEFAULT_MODEL)
    parser.add_argument("--concurrency", type=int, default=8)
    parser.add_argument("--quick", action="store_true", help="40 files, hashing: seconds")
    parser.add_argument("--keep", action="store_true", help="keep the stack's folder")
    args = parser.parse_args()
    if args.quick:
        args.files, args.embedder = 40, "hashing"
    use_embedder(args.embedder)
    say(f"load average at start: {load_average()}")
    with tempfile.TemporaryDirectory(prefix="sluice-folder-") as tmp:
        folder = Path(tmp)
        size = write_folder(folder, args.files)
        say(f"{args.files} files ({', '.join(FORMATS)}), {size / 1e6:.1f} MB in {folder}")
        with running_stack(args.keep, args.embedder, transform_workers=1) as stack:
            url = stack.url("searchapi")
            wall, tail = run_cli(url, folder, "bench", args.concurrency)
            say(tail)
            say(
                f"\nsluice ingest --wait of {args.files} files: {wall:.1f} s wall, "
                f"{args.files / wall:.1f} docs/s, {size / 1e6 / wall:.2f} MB/s "
                f"(embedder {args.embedder}, concurrency {args.concurrency})"
            )
            again, _ = run_cli(url, folder, "bench", args.concurrency)
            say(
                f"the same folder again (unchanged): {again:.1f} s, {args.files / again:.1f} docs/s"
            )
            metrics = httpx.get(f"{stack.url('transform')}/metrics", timeout=10).text
    extract = metric_sums(metrics, "sluice_extract_duration_seconds")
    handled = metric_sums(metrics, "sluice_function_request_duration_seconds")
    transform = sum(v for labels, v in handled.items() if 'function="transform"' in labels)
    extracted = sum(extract.values())
    say("\nextraction in transform, by format (seconds, sum over the files):")
    for labels, seconds in sorted(extract.items()):
        say(f"  {labels:40s} {seconds:8.2f}")
    if transform:
        say(
            f"extraction {extracted:.2f} s of transform's {transform:.2f} s handling deliveries: "
            f"{100 * extracted / transform:.1f} %"
        )
    say(f"load average at end: {load_average()}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
