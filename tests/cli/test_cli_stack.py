"""The installed `sluice` binary against the real local stack (searchapi forwarding to ingest,
the pipeline, milvus-lite; no API keys, the hashing embedder). Each test has a tenant of its
own."""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from dev.stack import Stack
from tests.cli.conftest import Result, Runner

pytestmark = pytest.mark.stack

JSONL = [
    {"id": "lines-1", "title": "Kestrel notes", "text": "The kestrel hovers over meadows."},
    {"id": "lines-2", "text": "Sluice gates hold back the water.", "metadata": {"lang": "en"}},
    {"id": "lines-3", "text": "A heron waits by the weir.", "metadata": {"lang": "de"}},
]


def _corpus(root: Path) -> Path:
    files = {
        "guide.md": "# Guide\n\nThe quartzite pavilion opens at noon.\n",
        "notes/intro.txt": "An introduction to the marmalade observatory.\n",
        "notes/deeper/more.md": "## More\n\nA deeper note about porcupine bridges.\n",
        "skipped.csv": "a,b\n1,2\n",
    }
    for name, text in files.items():
        path = root / name
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text(text)
    (root / "batch.jsonl").write_text("".join(json.dumps(d) + "\n" for d in JSONL))
    return root


IDS = ["batch", "guide.md", "notes-deeper-more.md", "notes-intro.txt"]
ALL_IDS = sorted(["guide.md", "notes-deeper-more.md", "notes-intro.txt"] + [d["id"] for d in JSONL])


@pytest.fixture
def run(sluice: Runner, stack: Stack) -> Runner:
    """`sluice` with SLUICE_URL pointing at the stack's searchapi."""

    def with_stack(*args: str, env: dict[str, str] | None = None, timeout: float = 180) -> Result:
        return sluice(*args, env={"SLUICE_URL": stack.url("searchapi"), **(env or {})})

    return with_stack


def _ingested(run: Runner, root: Path, tenant: str) -> Result:
    result = run(
        "ingest", str(root), "--recursive", "--wait", "--timeout", "120", "--tenant", tenant
    )
    assert result.code == 0, result.output
    return result


def _ids(run: Runner, tenant: str, *args: str) -> list[str]:
    result = run("documents", "--tenant", tenant, "--json", *args)
    assert result.code == 0, result.output
    return [record["id"] for record in json.loads(result.stdout)["documents"]]


def test_ingest_a_folder_and_wait_then_a_second_run_is_unchanged(
    run: Runner, tmp_path: Path, tenant: str
) -> None:
    root = _corpus(tmp_path / "corpus")
    first = _ingested(run, root, tenant)
    assert "sent 6 of 6 documents" in first.stdout
    assert "6 accepted, 0 unchanged, 6 indexed, 0 failed, 1 skipped" in first.stdout
    assert _ids(run, tenant, "--status", "indexed") == ALL_IDS

    again = _ingested(run, root, tenant)  # resumable: what the server has is unchanged
    assert "0 accepted, 6 unchanged, 6 indexed, 0 failed, 1 skipped" in again.stdout


def test_a_failing_file_and_a_bad_line_are_exit_1_and_named(
    run: Runner, tmp_path: Path, tenant: str
) -> None:
    root = tmp_path / "corpus"
    root.mkdir()
    (root / "fine.txt").write_text("A perfectly ordinary document about lighthouses.\n")
    (root / "broken.md").write_bytes(b"# Broken\n\n\xff\xfe not UTF-8 \xc3\x28\n")
    (root / "lines.jsonl").write_text(
        json.dumps({"id": "good-line", "text": "a good line"}) + "\n{not json\n"
        + json.dumps({"id": "blank-line", "text": "  "}) + "\n"
    )  # fmt: skip
    result = run("ingest", str(root), "--wait", "--timeout", "120", "--tenant", tenant)
    assert result.code == 1, result.output
    failures = result.stdout.split("failed:\n", 1)[1]
    assert str(root / "broken.md") in failures
    assert f"{root / 'lines.jsonl'}:2: not JSON" in failures
    assert f"{root / 'lines.jsonl'}:3: 422 validation_failed" in failures
    assert str(root / "fine.txt") not in failures
    assert "2 indexed, 3 failed" in result.stdout
    assert sorted(_ids(run, tenant, "--status", "indexed")) == ["fine.txt", "good-line"]


def test_search_table_and_json(run: Runner, tmp_path: Path, tenant: str) -> None:
    _ingested(run, _corpus(tmp_path / "corpus"), tenant)
    table = run("search", "kestrel hovers over meadows", "--tenant", tenant, "--k", "3")
    assert table.code == 0, table.output
    assert "Kestrel notes" in table.stdout and "lines-1" in table.stdout  # title, then id
    assert "The kestrel hovers over meadows." in table.stdout
    assert "hits (hybrid" in table.stdout

    raw = run("search", "quartzite pavilion", "--tenant", tenant, "--json", "--mode", "text")
    assert raw.code == 0, raw.output
    answer = json.loads(raw.stdout)
    assert answer["mode"] == "text"
    assert answer["hits"][0]["document_id"] == "guide.md"

    only = run(
        "search", "water", "--tenant", tenant, "--json",
        "--filter", "document_id=lines-2", "--filter", "document_id=lines-3",
    )  # fmt: skip
    assert only.code == 0, only.output
    assert {h["document_id"] for h in json.loads(only.stdout)["hits"]} <= {"lines-2", "lines-3"}
    german = run("search", "heron weir", "--tenant", tenant, "--json", "--filter", "lang=de")
    assert [h["document_id"] for h in json.loads(german.stdout)["hits"]] == ["lines-3"]


def test_status_delete_and_documents(run: Runner, tmp_path: Path, tenant: str) -> None:
    _ingested(run, _corpus(tmp_path / "corpus"), tenant)
    status = run("status", "guide.md", "--tenant", tenant)
    assert status.code == 0 and "indexed" in status.stdout and tenant in status.stdout
    record = json.loads(run("status", "guide.md", "--tenant", tenant, "--json").stdout)
    assert record["id"] == "guide.md" and record["status"] == "indexed" and record["chunks"] >= 1

    missing = run("status", "no-such-doc", "--tenant", tenant)
    assert missing.code == 1 and "404 document_not_found" in missing.stderr

    deleted = run("delete", "guide.md", "--yes", "--tenant", tenant)
    assert deleted.code == 0, deleted.output
    record = json.loads(run("status", "guide.md", "--tenant", tenant, "--json").stdout)
    assert record["status"] == "deleted"

    listing = run("documents", "--tenant", tenant)
    assert listing.code == 0
    assert "6 of 6 documents" in listing.stdout and "notes-intro.txt" in listing.stdout
    assert _ids(run, tenant, "--status", "deleted") == ["guide.md"]
    assert _ids(run, tenant, "--prefix", "lines-") == ["lines-1", "lines-2", "lines-3"]
    paged = run("documents", "--tenant", tenant, "--limit", "2")
    assert "2 of 6 documents (more: --all, or a larger --limit)" in paged.stdout
    assert _ids(run, tenant, "--limit", "5") == ALL_IDS[:5]
    assert _ids(run, tenant, "--all") == ALL_IDS


def test_dead_letters_over_http(run: Runner, tenant: str) -> None:
    listing = run("dlq", "list", "--tenant", tenant, "--json")
    assert listing.code == 0, listing.output
    assert json.loads(listing.stdout) == {"dead_letters": []}
    replay = run("dlq", "replay", "no-such-job", "--tenant", tenant)
    assert replay.code == 0 and replay.stdout.strip() == "replayed 0 jobs"
    assert "1 of the jobs named were not replayed" in replay.stderr


def test_files_are_cited_by_page_and_section(run: Runner, tmp_path: Path, tenant: str) -> None:
    from tests import testfiles

    root = tmp_path / "files"
    root.mkdir()
    (root / "manual.pdf").write_bytes(testfiles.multipage_pdf())
    (root / "handbook.md").write_bytes(testfiles.nested_markdown())
    (root / "report.docx").write_bytes(testfiles.report_docx())
    (root / "locked.pdf").write_bytes(testfiles.encrypted_pdf())
    result = run("ingest", str(root), "--wait", "--timeout", "120", "--tenant", tenant)
    assert result.code == 1, result.output  # the encrypted PDF fails, named with its reason
    failures = result.stdout.split("failed:\n", 1)[1]
    assert str(root / "locked.pdf") in failures and "encrypted" in failures
    assert "3 indexed, 1 failed" in result.stdout

    page3 = run("search", testfiles.PAGE3_WORD, "--tenant", tenant, "--mode", "text", "--json")
    hit = json.loads(page3.stdout)["hits"][0]
    assert (hit["document_id"], hit["page"], hit["page_end"]) == ("manual.pdf", 3, 3)
    table = run("search", testfiles.PAGE3_WORD, "--tenant", tenant, "--mode", "text")
    assert testfiles.PDF_TITLE in table.stdout and "3" in table.stdout
    section = run(
        "search", "debianword", "--tenant", tenant, "--mode", "text", "--json",
        "--filter", "section=Install > Linux > Debian",
    )  # fmt: skip
    assert section.code == 0, section.output
    hits = json.loads(section.stdout)["hits"]
    assert hits and {h["section"] for h in hits} == {"Install > Linux > Debian"}
    table = run("search", "debianword", "--tenant", tenant, "--mode", "text")
    assert "Sluice Handbook" in table.stdout and "Install > Linux" in table.stdout


def test_models_status_against_the_stack(sluice: Runner, stack: Stack, tmp_path: Path) -> None:
    """Status only: a migration here would change the model under the session's other tests."""
    env = {"SLUICE_MODELS_URL": stack.url("models"), "SLUICE_ADMIN_KEY": stack.secrets["admin_key"]}
    table = sluice("models", env=env)
    assert table.code == 0, table.output
    assert "active" in table.stdout and "collection" in table.stdout
    raw = sluice("models", "status", "--json", env=env)
    assert raw.code == 0, raw.output
    status = json.loads(raw.stdout)
    assert status["active"]["model"] in table.stdout
    assert "hashing" in status["models"] and status["phase"] in (
        None,
        "building",
        "ready",
        "previous",
    )
    keyless = sluice("models", env={"SLUICE_MODELS_URL": stack.url("models")})
    assert keyless.code == 4 and "401" in keyless.stderr  # no key, or a laptop stack's
