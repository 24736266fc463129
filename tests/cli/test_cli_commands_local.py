"""search, documents and dlq against a real local HTTP server: the requests they make and how
they show the answers."""

from __future__ import annotations

import json

from tests.cli.conftest import Runner
from tests.cli.httpserver import Answer, Received, ScriptedServer

HITS = {
    "hits": [
        {
            "chunk_id": "c1",
            "document_id": "manual.pdf",
            "chunk": 4,
            "score": 0.8125,
            "title": "Operator Manual",
            "text": "Open   the\n sluice gate slowly. " * 20,
            "metadata": {},
            "page": 3,
            "page_end": 5,
            "section": "2.1 Gates",
        },
        {
            "chunk_id": "c2",
            "document_id": "notes-intro.txt",
            "chunk": 0,
            "score": 0.5,
            "title": "",
            "text": "Plain notes.",
            "metadata": {},
            "page": None,
            "page_end": None,
            "section": None,
        },
        {
            "chunk_id": "c3",
            "document_id": "single.pdf",
            "chunk": 0,
            "score": 0.25,
            "title": "Single",
            "text": "One page.",
            "metadata": {},
            "page": 7,
            "page_end": 7,
        },
    ],
    "mode": "dense",
    "k": 3,
    "offset": 0,
    "took_ms": 4.2,
}


def test_search_sends_the_body_and_shows_citations(sluice: Runner) -> None:
    with ScriptedServer(lambda r: Answer(200, HITS)) as server:
        result = sluice(
            "search", "how to open the gate", "--url", server.url, "--mode", "dense",
            "-k", "3", "--tenant", "acme", "--filter", "document_id=manual.pdf",
            "--filter", "page=3", "--filter", "section=2.1 Gates", "--filter", "lang=en",
            "--filter", "year=2024", "--filter", "lang=de",
        )  # fmt: skip
    assert result.code == 0, result.output
    (request,) = server.received
    assert request.method == "POST" and request.path == "/v1/search"
    assert request.json() == {
        "query": "how to open the gate",
        "k": 3,
        "mode": "dense",
        "tenant": "acme",
        "filter": {
            "document_id": "manual.pdf",
            "page": 3,
            "section": "2.1 Gates",
            "metadata": {"lang": ["en", "de"], "year": 2024},
        },
    }
    rows = result.stdout.splitlines()
    first = next(line for line in rows if "Operator Manual" in line)
    assert "3-5" in first and "2.1 Gates" in first and "0.8125" in first
    assert any("manual.pdf" in line for line in rows)  # the id under the title
    second = next(line for line in rows if "notes-intro.txt" in line)
    assert "None" not in second and "0.5000" in second  # no page, no section: nothing shown
    third = next(line for line in rows if "Single" in line)
    assert " 7 " in third and "7-7" not in third
    assert "Open the sluice gate slowly." in result.stdout  # whitespace collapsed
    assert "…" in result.stdout  # the long text cut
    assert result.stdout.rstrip().endswith("3 hits (dense, 4 ms)")


def test_search_json_is_the_answer(sluice: Runner) -> None:
    with ScriptedServer(lambda r: Answer(200, HITS)) as server:
        result = sluice("search", "q", "--url", server.url, "--json")
    assert result.code == 0 and json.loads(result.stdout) == HITS
    assert server.received[0].json() == {"query": "q", "k": 10, "mode": "hybrid"}


def test_no_hits(sluice: Runner) -> None:
    empty = {"hits": [], "mode": "hybrid", "k": 10, "offset": 0, "took_ms": 1.0}
    with ScriptedServer(lambda r: Answer(200, empty)) as server:
        result = sluice("search", "nothing", "--url", server.url)
    assert result.code == 0 and result.stdout.strip() == "0 hits (hybrid, 1 ms)"


def _record(doc_id: str) -> dict[str, object]:
    return {"id": doc_id, "status": "indexed", "chunks": 2, "error": None,
            "updated_at": "2025-05-02T09:14:04.502913+00:00"}  # fmt: skip


def _pages(received: Received) -> Answer:
    """250 documents, `limit` at a time; the cursor is the next index."""
    start = int(received.query.get("cursor", ["0"])[0])
    limit = int(received.query["limit"][0])
    end = min(250, start + limit)
    return Answer(
        200,
        {
            "documents": [_record(f"doc-{n:03}") for n in range(start, end)],
            "next_cursor": str(end) if end < 250 else None,
            "total": 250,
            "limit": limit,
        },
    )


def test_documents_pages_with_the_cursor(sluice: Runner) -> None:
    with ScriptedServer(_pages) as server:
        every = sluice("documents", "--url", server.url, "--all", "--json", "--status", "indexed")
        some = sluice("documents", "--url", server.url, "--limit", "130", "--prefix", "doc-")
        table = sluice("documents", "--url", server.url)
    assert every.code == some.code == table.code == 0
    answer = json.loads(every.stdout)
    assert [d["id"] for d in answer["documents"]] == [f"doc-{n:03}" for n in range(250)]
    assert answer["total"] == 250 and answer["next_cursor"] is None
    queries = [r.query for r in server.received]
    assert queries[:3] == [
        {"status": ["indexed"], "limit": ["100"]},
        {"status": ["indexed"], "limit": ["100"], "cursor": ["100"]},
        {"status": ["indexed"], "limit": ["100"], "cursor": ["200"]},
    ]
    assert queries[3:5] == [
        {"prefix": ["doc-"], "limit": ["100"]},
        {"prefix": ["doc-"], "limit": ["30"], "cursor": ["100"]},
    ]
    assert "130 of 250 documents (more: --all, or a larger --limit)" in some.stdout
    assert queries[5] == {"limit": ["20"]}
    assert "doc-019" in table.stdout and "doc-020" not in table.stdout
    assert "2025-05-02 09:14:04" in table.stdout


DEAD = {
    "dead_letters": [
        {
            "job_id": "0f3a6c1e-5b2d-4e8f-9a7c-1d2e3f4a5b6c",
            "queue": "sluice-transform",
            "subscriber": "transform",
            "event_type": "dev.sluice.document.accepted",
            "event_id": "e1",
            "document_id": "doc-2",
            "document_version": "v",
            "tenant": "acme",
            "trace_id": "t",
            "failed_at": "2025-05-02T09:21:40.771020+00:00",
            "error": "sluice.errors.Unavailable: embedder endpoint answered 500",
        }
    ]
}


def test_dlq_list_and_replay(sluice: Runner) -> None:
    def script(received: Received) -> Answer:
        if received.method == "GET":
            return Answer(200, DEAD)
        return Answer(200, {"replayed": 1 if received.json().get("job_ids") else 3})

    with ScriptedServer(script) as server:
        listing = sluice("dlq", "list", "--url", server.url, "--tenant", "acme")
        raw = sluice("dlq", "list", "--url", server.url, "--json")
        named = sluice("dlq", "replay", "job-a", "job-b", "--url", server.url)
        every = sluice("dlq", "replay", "--all", "--url", server.url, "--tenant", "acme")
        both = sluice("dlq", "replay", "job-a", "--all", "--url", server.url)
    assert listing.code == raw.code == named.code == every.code == 0
    assert "0f3a6c1e-5b2d-4e8f-9a7c-1d2e3f4a5b6c" in listing.stdout
    assert "embedder endpoint answered 500" in listing.stdout
    assert listing.stdout.rstrip().endswith("1 dead letters")
    assert json.loads(raw.stdout) == DEAD
    posts = [r for r in server.received if r.method == "POST"]
    assert [(r.path, r.json(), r.query) for r in posts] == [
        ("/v1/ingest/dead-letters/replay", {"job_ids": ["job-a", "job-b"]}, {}),
        ("/v1/ingest/dead-letters/replay", {"all": True}, {"tenant": ["acme"]}),
    ]
    assert named.stdout.strip() == "replayed 1 jobs"
    assert "1 of the jobs named were not replayed" in named.stderr
    assert every.stdout.strip() == "replayed 3 jobs"
    assert both.code == 2


def _span(text: str, word: str) -> dict[str, int]:
    """The code-point range of `word`'s first occurrence in `text`, as searchapi sends it."""
    start = text.index(word)
    return {"start": start, "end": start + len(word)}


# A passage with markup look-alikes (user text: rich must not read it) after an emoji.
PASSAGE = "😀 [bold]Running[/bold] the [link=http://x]gates[/link] \\[ok]\n  runners."
SNIPPETED = {
    "hits": [
        {
            "chunk_id": "c1",
            "document_id": "manual.pdf",
            "chunk": 4,
            "score": 0.8,
            "title": "Operator Manual",
            "text": "Before it. " * 30 + PASSAGE + " After it." * 30,
            "metadata": {},
            "page": 3,
            "page_end": 3,
            "section": "Gates",
            "highlights": [],
            "snippet": {
                "text": PASSAGE,
                "start": 330,
                "end": 330 + len(PASSAGE),
                "highlights": [_span(PASSAGE, "Running"), _span(PASSAGE, "runners")],
            },
            "more_chunks": 3,
        },
        {
            "chunk_id": "c2",
            "document_id": "notes.txt",
            "chunk": 0,
            "score": 0.5,
            "title": "Notes",
            "text": "Old server: [red]no snippet[/red] here.",
            "metadata": {},
            "more_chunks": 0,
        },
    ],
    "mode": "hybrid",
    "k": 10,
    "offset": 0,
    "took_ms": 2.0,
}
SHOWN = "😀 [bold]Running[/bold] the [link=http://x]gates[/link] \\[ok] runners."


def test_search_shows_the_server_snippet_literally(sluice: Runner) -> None:
    with ScriptedServer(lambda r: Answer(200, SNIPPETED)) as server:
        result = sluice("search", "run gate", "--url", server.url)
    assert result.code == 0, result.output
    assert f"…{SHOWN}…" in result.stdout  # the passage, on one line, cut from a longer text
    assert "Before it." not in result.stdout  # the snippet, not the text's start
    assert "Old server: [red]no snippet[/red] here." in result.stdout  # the fallback
    assert "+3 more passages in this document" in result.stdout
    assert "more passage" not in result.stdout.split("Notes")[1]  # 0 more: nothing said
    assert "\x1b[" not in result.stdout  # not a terminal: no styles


def test_search_marks_the_highlighted_words_on_a_terminal(sluice: Runner) -> None:
    with ScriptedServer(lambda r: Answer(200, SNIPPETED)) as server:
        result = sluice(
            "search", "run", "--url", server.url, env={"TTY_COMPATIBLE": "1", "TERM": "xterm"}
        )
    assert result.code == 0, result.output
    # bold underline (1;4) around exactly the matched words, the brackets shown as typed
    assert "\x1b[1;4mRunning\x1b[0m[/bold]" in result.stdout
    assert "\x1b[1;4mrunners\x1b[0m." in result.stdout
    assert "[link=http://x]gates[/link]" in result.stdout
    assert "\x1b[1;4m" not in result.stdout.split("Notes")[1]  # the fallback marks nothing


def test_search_group_by_document(sluice: Runner) -> None:
    with ScriptedServer(lambda r: Answer(200, SNIPPETED)) as server:
        result = sluice("search", "gates", "--url", server.url, "--group-by", "document")
        as_json = sluice("search", "gates", "--url", server.url, "--group-by", "document", "--json")
    assert result.code == 0, result.output
    assert server.received[0].json() == {
        "query": "gates", "k": 10, "mode": "hybrid", "group_by": "document",
    }  # fmt: skip
    assert "+3 more passages in this document" in result.stdout
    assert result.stdout.rstrip().endswith("2 hits (hybrid, one per document, 2 ms)")
    assert as_json.code == 0 and json.loads(as_json.stdout) == SNIPPETED
    assert server.received[1].json()["group_by"] == "document"


def test_search_group_by_takes_only_document(sluice: Runner) -> None:
    result = sluice("search", "gates", "--url", "http://127.0.0.1:9", "--group-by", "chunk")
    assert result.code == 2 and "chunk" in result.output
