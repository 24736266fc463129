"""Build the demo corpus `samples/corpus.jsonl` from the docstrings of Python's standard library.

    uv run --frozen python dev/make_corpus.py            # writes samples/corpus.jsonl
    uv run --frozen python dev/make_corpus.py --stats    # also prints counts and sizes

One document per public standard-library module with a meaningful docstring: its docstring, then
one paragraph `<name>: <docstring>` per public top-level function and class (sorted by name).
The text is the Python Software Foundation's, under the PSF License Agreement (see
`samples/NOTICE`); the corpus is demo data, not part of the product.

Each module is imported in its own short-lived interpreter (`-I -S`: isolated, no site-packages;
warnings ignored; no stdin; output captured; an empty temporary folder as home and working
directory; killed after a timeout), so no import can hang, print or disturb this process, and a
module that fails to import, or prints while importing, is skipped. Nothing beyond the import
runs: names and docstrings are read from the module's `__dict__`, never through `getattr` on
the module (a module's `__getattr__` could run code).

The output is deterministic for a given interpreter: documents sorted by id, one JSON object
per line with sorted keys. The parent process never imports a candidate module itself; it finds
submodules by walking the standard library's folders.
"""

from __future__ import annotations

import argparse
import json
import os
import subprocess
import sys
import tempfile
import textwrap
from collections.abc import Iterable, Iterator
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_OUTPUT = ROOT / "samples" / "corpus.jsonl"
DEFAULT_NOTICE = ROOT / "samples" / "NOTICE"
STDLIB = Path(os.__file__).resolve().parent

MIN_TEXT_CHARS = 200
MAX_TEXT_CHARS = 20_000
MIN_DOC_LETTERS = 15  # a module docstring with fewer letters is not meaningful
IMPORT_TIMEOUT_SECONDS = 10.0

# Top-level names never imported: GUI/IDE packages, demos, installers, packages that are
# deprecated shims or tests, and modules whose import does something (prints, opens a browser).
EXCLUDED_TOP_LEVEL = frozenset(
    {
        "antigravity",
        "distutils",
        "ensurepip",
        "idlelib",
        "lib2to3",
        "this",
        "tkinter",
        "turtle",  # tkinter's turtle graphics
        "turtledemo",
        "test",
        "pydoc_data",  # generated topic data, no docstrings
    }
)
# Modules whose source carries a permission notice of its own besides Python's license (those in
# "Licenses and Acknowledgements for Incorporated Software" of Python's documentation, and files
# with their own notice in their header): left out, so that Python's license covers the corpus.
OWN_NOTICE = frozenset(
    {
        "asynchat",
        "asyncore",
        "http.cookies",
        "logging",  # and its submodules
        "sqlite3",  # and its submodules
        "tarfile",
        "trace",
        "uu",
        "xmlrpc.client",
    }
)
# Docstrings written by a generator (the encodings package's character-map codecs): left out.
GENERATED_MARKERS = ("gencodec.py",)
TEST_COMPONENTS = frozenset({"test", "tests", "idle_test"})

# Run in the child interpreter: import one module, write its docstrings as JSON to a file.
CHILD = r"""
import importlib, inspect, json, sys

name, out = sys.argv[1], sys.argv[2]
module = importlib.import_module(name)
namespace = dict(vars(module))

def docstring(obj):
    if inspect.isclass(obj):
        doc = obj.__dict__.get("__doc__")
    elif inspect.isfunction(obj) or inspect.isbuiltin(obj):
        doc = obj.__doc__
    else:
        return None
    return inspect.cleandoc(doc) if isinstance(doc, str) and doc.strip() else None

def owned(obj):
    owner = getattr(obj, "__module__", None)  # an attribute of the class or function
    if not isinstance(owner, str):
        return False
    return owner == name or owner.rsplit(".", 1)[-1].startswith("_")

exported = namespace.get("__all__")
if isinstance(exported, (list, tuple)) and all(isinstance(n, str) for n in exported):
    names = set(exported)
else:
    names = {n for n in namespace if not n.startswith("_")}
members = []
for member in sorted(names):
    obj = namespace.get(member)
    if member.startswith("_") or obj is None or not (
        inspect.isclass(obj) or inspect.isfunction(obj) or inspect.isbuiltin(obj)
    ):
        continue
    doc = docstring(obj)
    if doc and owned(obj):
        members.append([member, doc])
doc = namespace.get("__doc__")
doc = inspect.cleandoc(doc) if isinstance(doc, str) else None
with open(out, "w", encoding="utf-8") as f:
    json.dump({"doc": doc, "members": members}, f, ensure_ascii=False)
"""


@dataclass(frozen=True)
class ModuleDocs:
    """What one import yielded: the module docstring and its members' docstrings."""

    name: str
    doc: str
    members: list[tuple[str, str]]


def has_own_notice(name: str) -> bool:
    """True for modules (and submodules of packages) listed in OWN_NOTICE."""
    parts = name.split(".")
    return any(".".join(parts[: i + 1]) in OWN_NOTICE for i in range(len(parts)))


def is_private(name: str) -> bool:
    """True for `_x` modules and modules inside private or test packages."""
    parts = name.split(".")
    return any(p.startswith("_") or p in TEST_COMPONENTS or p.startswith("test_") for p in parts)


def submodules(package: str, folder: Path) -> Iterator[str]:
    """The dotted names of the modules under a package folder (packages need `__init__.py`)."""
    for entry in sorted(folder.iterdir()):
        if entry.is_dir() and (entry / "__init__.py").is_file():
            child = f"{package}.{entry.name}"
            yield child
            yield from submodules(child, entry)
        elif entry.suffix == ".py" and entry.stem != "__init__":
            yield f"{package}.{entry.stem}"


def candidate_modules() -> list[str]:
    """Every public module name of this interpreter's standard library, sorted."""
    names: set[str] = set()
    for top in sys.stdlib_module_names:
        if top in EXCLUDED_TOP_LEVEL or is_private(top):
            continue
        names.add(top)
        folder = STDLIB / top
        if (folder / "__init__.py").is_file():
            names.update(submodules(top, folder))
    return sorted(n for n in names if not is_private(n) and not has_own_notice(n))


def import_docs(name: str, workdir: Path, timeout: float) -> ModuleDocs | None:
    """Import `name` in a fresh isolated interpreter; None if it fails, hangs or prints."""
    out = workdir / f"{name}.json"
    env = {"PATH": os.defpath, "HOME": str(workdir), "TERM": "dumb", "LC_ALL": "C.UTF-8"}
    try:
        result = subprocess.run(
            [sys.executable, "-I", "-S", "-W", "ignore", "-c", CHILD, name, str(out)],
            stdin=subprocess.DEVNULL,
            capture_output=True,
            cwd=workdir,
            env=env,
            timeout=timeout,
            check=False,
        )
    except subprocess.TimeoutExpired:
        return None
    if result.returncode != 0 or result.stdout or not out.is_file():
        return None
    data = json.loads(out.read_text(encoding="utf-8"))
    if not data["doc"]:
        return None
    return ModuleDocs(name, data["doc"], [(m, d) for m, d in data["members"]])


def is_meaningful(doc: str) -> bool:
    """A docstring worth a document: a few words at least, and not written by a generator."""
    if any(marker in doc for marker in GENERATED_MARKERS):
        return False
    return len(doc.split()) >= 2 and sum(c.isalpha() for c in doc) >= MIN_DOC_LETTERS


def truncate(text: str, limit: int) -> str:
    """`text` cut to at most `limit` characters at a paragraph (else line, else space) boundary."""
    if len(text) <= limit:
        return text
    for separator in ("\n\n", "\n", " "):
        cut = text.rfind(separator, 0, limit + 1)
        if cut > 0:
            return text[:cut].rstrip()
    return text[:limit]


def build_document(module: ModuleDocs, max_chars: int) -> dict[str, object]:
    """The corpus record of one module."""
    paragraphs = [module.doc, *(f"{name}: {doc}" for name, doc in module.members)]
    text = truncate("\n\n".join(paragraphs), max_chars)
    first_line = next(line.strip() for line in module.doc.splitlines() if line.strip())
    return {
        "id": module.name,
        "title": f"{module.name}: {first_line}",
        "text": text,
        "metadata": {
            "package": module.name.split(".", 1)[0],
            "kind": "module",
            "source": "python-stdlib",
        },
    }


def collect(
    names: Iterable[str], jobs: int, timeout: float, max_chars: int
) -> list[dict[str, object]]:
    """The documents of every module that imports cleanly and has enough text, sorted by id."""
    with tempfile.TemporaryDirectory(prefix="sluice-corpus-") as tmp:
        workdir = Path(tmp)
        with ThreadPoolExecutor(max_workers=jobs) as pool:
            found = list(pool.map(lambda n: import_docs(n, workdir, timeout), names))
    documents = []
    for module in found:
        if module is None or not is_meaningful(module.doc):
            continue
        document = build_document(module, max_chars)
        if len(str(document["text"])) >= MIN_TEXT_CHARS:
            documents.append(document)
    return sorted(documents, key=lambda d: str(d["id"]))


def write_jsonl(documents: list[dict[str, object]], path: Path) -> None:
    """One JSON object per line, keys sorted, UTF-8 kept as is."""
    path.parent.mkdir(parents=True, exist_ok=True)
    lines = (json.dumps(d, ensure_ascii=False, sort_keys=True) + "\n" for d in documents)
    path.write_text("".join(lines), encoding="utf-8")


NOTICE_HEAD = """\
samples/corpus.jsonl: demo corpus
=================================

This is a demo corpus, not part of the Sluice product: sample documents for the demo, examples
and tests. It was made by dev/make_corpus.py.

Where the text comes from: the docstrings of the standard library of Python {version}
(CPython), as the interpreter holds them: one document per public module with a docstring,
made of the module's docstring and the docstrings of its public top-level functions and
classes.

{copyright}

The text is used under the PSF License Agreement (Python Software Foundation License Version
2), which permits its redistribution provided that the PSF License Agreement and the PSF's
notice of copyright are retained. They are reproduced below, with the rest of the license file
of this Python release, verbatim.

Summary of the changes made (section 3 of the PSF License Agreement): the docstrings were
extracted from the imported modules, their indentation normalised (inspect.cleandoc), joined
one document per module as "<name>: <docstring>" paragraphs, and texts longer than {max_chars}
characters were cut at a paragraph boundary. Modules whose source carries a permission notice
of its own besides Python's license were left out:
{own_notice}.

"""


def write_notice(path: Path, max_chars: int) -> None:
    """The NOTICE: where the corpus comes from, then this Python's license file verbatim."""
    license_file = STDLIB / "LICENSE.txt"
    if not license_file.is_file():
        raise SystemExit(f"{license_file} is missing: cannot write the license notice")
    head = NOTICE_HEAD.format(
        version=sys.version.split()[0],
        copyright=" ".join(sys.copyright.splitlines()[:2]),
        max_chars=f"{max_chars:,}",
        own_notice=textwrap.fill(
            ", ".join(sorted(OWN_NOTICE)), 95, initial_indent="  ", subsequent_indent="  "
        ),
    )
    rule = "-" * 78
    license_text = license_file.read_text(encoding="utf-8").strip()
    header = f"Python {sys.version.split()[0]}: LICENSE.txt"
    path.write_text(f"{head}{rule}\n{header}\n{rule}\n\n{license_text}\n", encoding="utf-8")


def parse_args(argv: list[str] | None = None) -> argparse.Namespace:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0] if __doc__ else None)
    parser.add_argument("--output", type=Path, default=DEFAULT_OUTPUT, help="the JSONL file")
    parser.add_argument("--notice", type=Path, default=DEFAULT_NOTICE, help="the NOTICE file")
    parser.add_argument("--max-chars", type=int, default=MAX_TEXT_CHARS, help="cap per text")
    parser.add_argument("--jobs", type=int, default=os.cpu_count() or 1, help="parallel imports")
    parser.add_argument(
        "--timeout", type=float, default=IMPORT_TIMEOUT_SECONDS, help="seconds per import"
    )
    parser.add_argument("--stats", action="store_true", help="print counts and sizes")
    return parser.parse_args(argv)


def main(argv: list[str] | None = None) -> int:
    args = parse_args(argv)
    if sys.version_info[:2] != (3, 11):
        print(f"note: Python {sys.version.split()[0]}; the committed corpus is Python 3.11's")
    names = candidate_modules()
    documents = collect(names, args.jobs, args.timeout, args.max_chars)
    write_jsonl(documents, args.output)
    write_notice(args.notice, args.max_chars)
    size = args.output.stat().st_size
    print(
        f"{len(documents)} documents ({len(names)} candidate modules), {size} bytes → {args.output}"
    )
    if args.stats:
        lengths = sorted(len(str(d["text"])) for d in documents)
        capped = sum(n >= args.max_chars - 2000 for n in lengths)
        print(
            f"text chars: min {lengths[0]}, median {lengths[len(lengths) // 2]}, max {lengths[-1]}"
        )
        print(f"texts near the cap: {capped}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
