"""The demo: ingest the sample corpus into the running stack, follow it, then search it.

    make demo                                   (starts the stack first; `make down` stops it)
    uv run python -m dev.demo --limit 40        (a shorter run against a running stack)

Posts the documents of `samples/corpus.jsonl` (the Python standard library's docstrings, see
samples/NOTICE) to ingest, shows progress until every one is indexed, then prints the top hits
of a few searches in each mode from searchapi, on the ports `make up` recorded in the stack's
folder (`--dir`, default .sluice).
"""

from __future__ import annotations

import argparse
import json
import sys
import time
from pathlib import Path

import httpx

from dev.stack import ROOT, Stack

CORPUS = Path(__file__).resolve().parent.parent / "samples" / "corpus.jsonl"
QUERIES = [
    "parse command line options and arguments",
    "compress and decompress data",
    "regular expression pattern matching",
    "send an email message over SMTP",
]
MODES = ("hybrid", "dense", "text")
BATCH = 50


def main() -> int:
    """Run the demo; exit status 0 when every document got indexed and searches answered."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--limit", type=int, help="ingest only the first N documents")
    parser.add_argument("--timeout", type=float, default=300, help="seconds to wait for indexing")
    parser.add_argument("--dir", type=Path, default=ROOT / ".sluice", help="the stack's folder")
    args = parser.parse_args()

    stack = Stack.of(args.dir)
    ingest_url, search_url = stack.url("ingest"), stack.url("searchapi")
    documents = [json.loads(line) for line in CORPUS.read_text(encoding="utf-8").splitlines()]
    documents = documents[: args.limit] if args.limit else documents

    with httpx.Client(base_url=ingest_url, timeout=60) as ingest:
        started = time.monotonic()
        for start in range(0, len(documents), BATCH):
            response = ingest.post(
                "/documents", json={"documents": documents[start : start + BATCH]}
            )
            response.raise_for_status()
        print(f"Posted {len(documents)} documents from {CORPUS.name} to {ingest_url}/documents")
        failed = _follow(ingest, [d["id"] for d in documents], args.timeout)
        print(
            f"Indexed in {time.monotonic() - started:.1f} s"
            + (f"; {len(failed)} failed: {', '.join(failed)}" if failed else "")
        )

    with httpx.Client(base_url=search_url, timeout=30) as search:
        for query in QUERIES:
            print(f"\n{query!r}")
            for mode in MODES:
                response = search.get("/v1/search", params={"q": query, "mode": mode, "k": 3})
                response.raise_for_status()
                result = response.json()
                hits = ", ".join(f"{h['document_id']} ({h['score']:.3f})" for h in result["hits"])
                print(f"  {mode:<7} {result['took_ms']:6.1f} ms  {hits or '(no hits)'}")

    print(
        f"\nThe stack keeps running: ingest {ingest_url}, search {search_url} "
        f"(try {search_url}/v1/search?q=json+encoder). `make down` stops it."
    )
    print(f"\nOpen the web console: {search_url}/  (search, add files, watch the pipeline)")
    return 1 if failed else 0


def _follow(ingest: httpx.Client, ids: list[str], timeout: float) -> list[str]:
    """Poll the documents' status until none is in flight; return those that failed."""
    pending = set(ids)
    failed: list[str] = []
    deadline = time.monotonic() + timeout
    shown = -1
    while pending:
        for doc_id in sorted(pending):
            status = ingest.get(f"/documents/{doc_id}").json()["status"]
            if status in ("indexed", "failed"):
                pending.discard(doc_id)
                if status == "failed":
                    failed.append(doc_id)
        done = len(ids) - len(pending)
        if sys.stdout.isatty():  # one line, redrawn
            print(f"  {done}/{len(ids)} indexed", end="\r" if pending else "\n", flush=True)
        elif done != shown:  # a log: a line when the count moves
            print(f"  {done}/{len(ids)} indexed", flush=True)
            shown = done
        if pending and time.monotonic() > deadline:
            raise SystemExit(f"\n{len(pending)} documents not indexed after {timeout:.0f} s")
        if pending:
            time.sleep(0.5)
    return failed


if __name__ == "__main__":
    sys.exit(main())
