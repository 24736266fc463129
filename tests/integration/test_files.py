"""Files end to end on the real stack: PDF, HTML, Markdown and DOCX (raw bodies, a form, and
through searchapi's ingest proxy) are indexed with their pages and sections, searchable and
filterable by them; each broken file ends `failed` with its reason, and nothing else is
affected."""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable

import httpx
import pytest

from sluice.extract.formats import DOCX, HTML, MARKDOWN, PDF
from tests import testfiles
from tests.conftest import wait_for

pytestmark = pytest.mark.stack

GOOD: dict[str, tuple[Callable[[], bytes], str]] = {
    "manual.pdf": (testfiles.multipage_pdf, PDF),
    "article.html": (testfiles.article_html, HTML),
}
BROKEN: dict[str, tuple[Callable[[], bytes], str, str]] = {
    "encrypted.pdf": (testfiles.encrypted_pdf, PDF, "encrypted"),
    "truncated.pdf": (testfiles.truncated_pdf, PDF, "damaged beyond repair"),
    "scan.pdf": (testfiles.scanned_pdf, PDF, "run OCR"),
    "corrupt.docx": (testfiles.corrupt_docx, DOCX, "corrupt zip"),
    "bomb.docx": (testfiles.zip_bomb_docx, DOCX, "zip bomb"),
    "liar.docx": (testfiles.lying_zip_bomb_docx, DOCX, "Bad CRC-32"),
    "latin1.html": (testfiles.wrong_encoding_html, HTML, "not valid utf-8"),
}


def _final(ingest: httpx.Client, tenant: str, ids: list[str]) -> dict[str, dict[str, object]]:
    """The records of the documents once every one is indexed or failed."""

    def done() -> dict[str, dict[str, object]] | None:
        records = {i: ingest.get(f"/documents/{i}", params={"tenant": tenant}).json() for i in ids}
        finished = all(r.get("status") in ("indexed", "failed") for r in records.values())
        return records if finished else None

    result = wait_for(done, 120, f"{ids} to be indexed or failed")
    assert isinstance(result, dict)
    return result


def _search(searchapi: httpx.Client, tenant: str, query: str, **extra: object) -> list[dict]:
    body = {"query": query, "tenant": tenant, "mode": "text", "k": 20, **extra}
    response = searchapi.post("/v1/search", json=body)
    assert response.status_code == 200, response.text
    hits: list[dict] = response.json()["hits"]
    return hits


@pytest.fixture(scope="module")
def files_tenant() -> str:
    """The tenant of this module's documents."""
    return f"files{uuid.uuid4().hex[:10]}"


@pytest.fixture(scope="module")
def submitted(ingest: httpx.Client, searchapi: httpx.Client, files_tenant: str) -> dict:
    """Every test file submitted once, and a plain JSON document beside them; their records
    once the pipeline is done with them."""
    tenant = files_tenant
    answers = {}
    for name, (make, media_type) in GOOD.items():  # raw bodies, named by query parameters
        answers[name] = ingest.post(
            "/documents",
            params={"tenant": tenant, "filename": name, "metadata": json.dumps({"kind": "raw"})},
            content=make(),
            headers={"Content-Type": media_type},
        )
    for name, (make, media_type, _) in BROKEN.items():  # raw bodies, named by headers
        answers[name] = ingest.post(
            "/documents",
            content=make(),
            headers={
                "Content-Type": media_type,
                "Content-Disposition": f'attachment; filename="{name}"',
                "Sluice-Tenant": tenant,
            },
        )
    form = ingest.post(  # a browser's form: two files
        "/documents",
        data={"tenant": tenant, "metadata": json.dumps({"kind": "form"})},
        files=[
            ("file", ("handbook.md", testfiles.nested_markdown(), MARKDOWN)),
            ("file", ("report.docx", testfiles.report_docx(), "application/octet-stream")),
        ],
    )
    via_proxy = searchapi.post(  # through searchapi, as the console and the CLI send it
        "/v1/ingest/documents",
        params={"tenant": tenant, "id": "proxied-manual", "title": "Proxied manual"},
        content=testfiles.multipage_pdf(),
        headers={"Content-Type": PDF},
    )
    plain = ingest.post(
        "/documents", json={"id": "plain", "text": "A plain zephyrquartz note.", "tenant": tenant}
    )
    for name, answer in answers.items():
        assert answer.status_code == 202, (name, answer.text)
    assert form.status_code == 202, form.text
    assert via_proxy.status_code == 202, via_proxy.text
    assert plain.status_code == 202, plain.text
    assert [d["id"] for d in form.json()["documents"]] == ["handbook.md", "report.docx"]
    ids = [*answers, "handbook.md", "report.docx", "proxied-manual", "plain"]
    return _final(ingest, tenant, ids)


def test_good_files_are_indexed_and_broken_ones_fail_with_their_reason(submitted: dict) -> None:
    for doc_id in ["manual.pdf", "article.html", "handbook.md", "report.docx", "proxied-manual"]:
        assert submitted[doc_id]["status"] == "indexed", submitted[doc_id]
        assert submitted[doc_id]["chunks"] > 0
    assert submitted["plain"]["status"] == "indexed"  # the broken files' batch-mates go on
    for name, (_, _, reason) in BROKEN.items():
        record = submitted[name]
        assert record["status"] == "failed", record
        assert name in str(record["error"]) and reason.lower() in str(record["error"]).lower()


def test_a_word_on_page_three_is_found_on_page_three(
    submitted: dict, searchapi: httpx.Client, files_tenant: str
) -> None:
    word = testfiles.pdf_page_words()[2][0]
    hits = [h for h in _search(searchapi, files_tenant, word) if h["document_id"] == "manual.pdf"]
    assert hits and all(h["page"] == 3 == h["page_end"] for h in hits)
    assert hits[0]["title"] == testfiles.PDF_TITLE  # from the PDF's own Info dictionary
    assert hits[0]["metadata"] == {"kind": "raw"}
    # The page filter: only page 3's chunks of either PDF, whatever the query.
    every_page = " ".join(words[0] for words in testfiles.pdf_page_words())
    on_three = _search(searchapi, files_tenant, every_page, filter={"page": 3})
    assert on_three and {h["page"] for h in on_three} == {3}
    proxied = _search(searchapi, files_tenant, word, filter={"document_id": "proxied-manual"})
    assert proxied and proxied[0]["title"] == "Proxied manual"  # a given title wins


def test_sections_come_back_and_filter(
    submitted: dict, searchapi: httpx.Client, files_tenant: str
) -> None:
    (path, word) = testfiles.MARKDOWN_SECTIONS[3]
    hits = _search(searchapi, files_tenant, word)
    assert hits[0]["document_id"] == "handbook.md"
    assert hits[0]["section"] == " > ".join(path) and hits[0]["page"] is None
    section = "Install > Linux"
    filtered = _search(searchapi, files_tenant, "install", filter={"section": section})
    assert filtered and {h["section"] for h in filtered} == {section}
    docx_hits = _search(searchapi, files_tenant, testfiles.DOCX_SECTIONS[1][2])
    assert docx_hits[0]["document_id"] == "report.docx"
    assert docx_hits[0]["section"] == "Summary > Throughput"


def test_html_boilerplate_is_not_indexed(
    submitted: dict, searchapi: httpx.Client, files_tenant: str
) -> None:
    for word in testfiles.ARTICLE_WORDS:
        assert any(
            h["document_id"] == "article.html" for h in _search(searchapi, files_tenant, word)
        )
    for word in testfiles.BOILERPLATE_WORDS:
        assert _search(searchapi, files_tenant, word) == [], word


def test_the_same_file_again_is_unchanged_without_being_parsed(
    submitted: dict, ingest: httpx.Client, files_tenant: str
) -> None:
    again = ingest.post(
        "/documents",
        params={"tenant": files_tenant, "filename": "manual.pdf", "metadata": '{"kind": "raw"}'},
        content=testfiles.multipage_pdf(),
        headers={"Content-Type": PDF},
    )
    assert again.status_code == 202 and again.json()["status"] == "unchanged", again.text
    retagged = ingest.post(  # other metadata: a new version, parsed again
        "/documents",
        params={"tenant": files_tenant, "filename": "manual.pdf", "metadata": '{"kind": "new"}'},
        content=testfiles.multipage_pdf(),
        headers={"Content-Type": PDF},
    )
    assert retagged.json()["status"] == "accepted"
    records = _final(ingest, files_tenant, ["manual.pdf"])
    assert records["manual.pdf"]["status"] == "indexed"


@pytest.mark.parametrize(
    ("headers", "params", "body", "status", "code"),
    [
        ({"Content-Type": "image/png"}, {}, b"\x89PNG", 415, "unsupported_media_type"),
        ({"Content-Type": PDF}, {}, b"", 422, "empty_file"),
        ({"Content-Type": PDF}, {"colour": "red"}, b"%PDF", 422, "invalid_parameter"),
        ({"Content-Type": PDF}, {"metadata": "[1]"}, b"%PDF", 422, "invalid_parameter"),
        ({"Content-Type": PDF}, {"id": "../etc"}, b"%PDF", 422, "validation_failed"),
        (
            {"Content-Type": PDF, "Sluice-Document-Id": "a"},
            {"id": "b"},
            b"%PDF",
            422,
            "invalid_parameter",
        ),
    ],
)
def test_a_bad_file_upload_is_refused_with_its_reason(
    ingest: httpx.Client,
    tenant: str,
    headers: dict[str, str],
    params: dict[str, str],
    body: bytes,
    status: int,
    code: str,
) -> None:
    response = ingest.post(
        "/documents", params={"tenant": tenant, **params}, content=body, headers=headers
    )
    assert response.status_code == status, response.text
    assert response.json()["error"]["code"] == code
    assert ingest.get("/documents", params={"tenant": tenant}).json()["total"] == 0
