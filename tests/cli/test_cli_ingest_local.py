"""`sluice ingest` against a real local HTTP server: what each request carries, the JSON-lines
batches and how a refused batch is split, the exit codes."""

from __future__ import annotations

import json
import threading
from pathlib import Path

from tests.cli.conftest import Runner
from tests.cli.httpserver import Answer, Received, ScriptedServer, error, submitted


def _files(root: Path, files: dict[str, bytes | str]) -> Path:
    for name, content in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_bytes(content.encode() if isinstance(content, str) else content)
    return root


def test_each_file_is_one_raw_request_with_its_id_name_type_tenant_and_metadata(
    sluice: Runner, tmp_path: Path
) -> None:
    root = _files(
        tmp_path / "corpus",
        {"docs/Install Guide.md": "# Install\n", "notes.txt": "plain", "img.png": b"\x89PNG"},
    )
    with ScriptedServer(submitted) as server:
        result = sluice(
            "ingest", str(root), "--recursive", "--url", server.url, "--tenant", "acme",
            "--metadata", "source=cli", "--metadata", "year=2024", "--verbose",
        )  # fmt: skip
    assert result.code == 0, result.output
    by_id = {r.query["id"][0]: r for r in server.received}
    assert set(by_id) == {"docs-Install-Guide.md", "notes.txt"}
    guide = by_id["docs-Install-Guide.md"]
    assert guide.method == "POST" and guide.path == "/v1/ingest/documents"
    assert guide.headers["content-type"] == "text/markdown"
    assert guide.body == b"# Install\n"
    assert guide.query["filename"] == ["Install Guide.md"]
    assert guide.query["tenant"] == ["acme"]
    assert json.loads(guide.query["metadata"][0]) == {"source": "cli", "year": 2024}
    assert by_id["notes.txt"].headers["content-type"] == "text/plain"
    assert "sent 2 of 2 documents" in result.stdout
    assert "2 accepted, 0 unchanged, 0 failed, 1 skipped" in result.stdout
    assert "img.png" in result.stderr  # listed as skipped with --verbose


def test_unchanged_answers_are_counted(sluice: Runner, tmp_path: Path) -> None:
    root = _files(tmp_path / "corpus", {"a.txt": "a", "b.txt": "b"})
    with ScriptedServer(lambda r: submitted(r, "unchanged")) as server:
        result = sluice("ingest", str(root), "--url", server.url)
    assert result.code == 0
    assert "0 accepted, 2 unchanged" in result.stdout


def test_a_folder_without_recursive_sends_its_direct_files_and_says_so(
    sluice: Runner, tmp_path: Path
) -> None:
    root = _files(tmp_path / "corpus", {"top.txt": "t", "sub/below.txt": "b"})
    with ScriptedServer(submitted) as server:
        result = sluice("ingest", str(root), "--url", server.url)
    assert [r.query["id"] for r in server.received] == [["top.txt"]]
    assert "1 subfolders not entered (--recursive enters them)" in result.stderr


def test_jsonl_batches_a_bad_batch_is_split_and_bad_lines_are_named(
    sluice: Runner, tmp_path: Path
) -> None:
    lines = [json.dumps({"id": f"d{n}", "text": f"text {n}"}) for n in range(1, 71)]
    lines[9] = json.dumps({"id": "d10", "text": "   "})  # blank text: the server refuses it
    lines[19] = "{broken"
    path = tmp_path / "docs.jsonl"
    path.write_text("\n".join(lines) + "\n")

    def script(received: Received) -> Answer:
        if any(not d["text"].strip() for d in received.json()["documents"]):
            return error(422, "validation_failed", "the payload is invalid")
        return submitted(received)

    with ScriptedServer(script) as server:
        result = sluice("ingest", str(path), "--url", server.url, "--tenant", "acme")
    assert result.code == 1, result.output
    batches = [r.json()["documents"] for r in server.received]
    # 64 refused as a whole, then a document at a time; the 5 after
    assert sorted(len(b) for b in batches) == [1] * 64 + [5, 64]
    assert all(d["tenant"] == "acme" for b in batches for d in b)
    assert "sent 68 of 70 documents" in result.stdout
    assert f"{path}:10: 422 validation_failed: the payload is invalid" in result.stdout
    assert f"{path}:20: not JSON" in result.stdout


def test_a_refused_file_fails_alone_with_the_servers_message(
    sluice: Runner, tmp_path: Path
) -> None:
    root = _files(tmp_path / "corpus", {"good.txt": "fine", "bad.txt": "refused"})

    def script(received: Received) -> Answer:
        if received.query["id"] == ["bad.txt"]:
            return error(415, "unsupported_media_type", "bad.txt: not a text file")
        return submitted(received)

    with ScriptedServer(script) as server:
        result = sluice("ingest", str(root), "--url", server.url)
    assert result.code == 1
    assert len(server.received) == 2
    assert "failed:\n" in result.stdout
    assert f"{root / 'bad.txt'}: 415 unsupported_media_type: bad.txt: not a text file" in (
        result.stdout
    )


def test_an_unsupported_file_named_is_an_error_line(sluice: Runner, tmp_path: Path) -> None:
    root = _files(tmp_path / "corpus", {"photo.png": b"\x89PNG", "ok.md": "# ok"})
    with ScriptedServer(submitted) as server:
        result = sluice("ingest", str(root / "photo.png"), str(root / "ok.md"), "--url", server.url)
    assert result.code == 1
    assert [r.query["id"] for r in server.received] == [["ok.md"]]
    assert f"{root / 'photo.png'}: not a type sluice sends" in result.stdout


def test_a_refused_key_stops_the_run_with_exit_4(sluice: Runner, tmp_path: Path) -> None:
    root = _files(tmp_path / "corpus", {f"f{n:02}.txt": str(n) for n in range(30)})
    with ScriptedServer(lambda r: error(401, "unauthorized", "unknown API key")) as server:
        result = sluice("ingest", str(root), "--url", server.url, env={"SLUICE_API_KEY": "wrong"})
    assert result.code == 4, result.output
    assert "sluice: 401 unauthorized: unknown API key" in result.stderr
    assert len(server.received) < 30  # it stopped instead of sending everything
    assert all(r.headers["authorization"] == "Bearer wrong" for r in server.received)
    assert "wrong" not in result.output


def test_an_unreachable_server_is_exit_3(sluice: Runner, tmp_path: Path) -> None:
    root = _files(tmp_path / "corpus", {"a.txt": "a"})
    result = sluice("ingest", str(root), "--url", "http://127.0.0.1:1")
    assert result.code == 3
    assert "could not reach http://127.0.0.1:1" in result.stderr


def test_a_500_for_one_file_fails_it_and_the_run_ends_with_3(
    sluice: Runner, tmp_path: Path
) -> None:
    root = _files(tmp_path / "corpus", {"a.txt": "a", "b.txt": "b"})

    def script(received: Received) -> Answer:
        if received.query["id"] == ["a.txt"]:
            return error(500, "internal_error", "internal error: KeyError")
        return submitted(received)

    with ScriptedServer(script) as server:
        result = sluice("ingest", str(root), "--url", server.url)
    assert result.code == 3
    assert len(server.received) == 2
    assert "1 accepted, 0 unchanged, 1 failed" in result.stdout


def test_wait_follows_each_document_until_indexed_or_failed(sluice: Runner, tmp_path: Path) -> None:
    root = _files(tmp_path / "corpus", {"ok.txt": "fine", "broken.md": "bad"})
    reads: dict[str, int] = {}
    lock = threading.Lock()

    def script(received: Received) -> Answer:
        if received.method == "POST":
            return submitted(received)
        doc_id = received.path.rsplit("/", 1)[1]
        with lock:
            reads[doc_id] = reads.get(doc_id, 0) + 1
            n = reads[doc_id]
        if n < 3:
            return Answer(200, {"id": doc_id, "status": "transforming", "error": None})
        if doc_id == "broken.md":
            return Answer(200, {"id": doc_id, "status": "failed", "error": "not UTF-8"})
        return Answer(200, {"id": doc_id, "status": "indexed", "error": None})

    with ScriptedServer(script) as server:
        result = sluice("ingest", str(root), "--url", server.url, "--wait", "--tenant", "acme")
    assert result.code == 1, result.output
    assert reads == {"ok.txt": 3, "broken.md": 3}
    gets = [r for r in server.received if r.method == "GET"]
    assert all(r.query == {"tenant": ["acme"]} for r in gets)
    assert "1 indexed, 1 failed" in result.stdout
    assert f"{root / 'broken.md'}: not UTF-8" in result.stdout


def test_wait_gives_up_after_the_timeout(sluice: Runner, tmp_path: Path) -> None:
    root = _files(tmp_path / "corpus", {"slow.txt": "s"})

    def script(received: Received) -> Answer:
        if received.method == "POST":
            return submitted(received)
        return Answer(200, {"id": "slow.txt", "status": "accepted", "error": None})

    with ScriptedServer(script) as server:
        result = sluice("ingest", str(root), "--url", server.url, "--wait", "--timeout", "1")
    assert result.code == 1
    assert "not indexed within 1 s (--timeout)" in result.stdout
