"""The ingest routes the web console uses: the tenant's documents page by page, files as a
multipart form, and the tenant's dead letters (real Redis, real container)."""

from __future__ import annotations

import base64
import io
import uuid

import pytest
from redis import Redis
from rq import Queue

from sluice.stores.documents import DocumentStore
from tests.functions.conftest import FunctionClient


def _queue() -> dict[str, object]:
    """Routing that puts transform's deliveries on a queue of the test's own."""
    return {"subscribers": {"transform": {"queue": f"q-{uuid.uuid4()}"}}}


def _submit(client: object, tenant: str, ids: list[str], **headers: str) -> None:
    documents = [{"id": i, "text": f"text of {i}", "tenant": tenant} for i in ids]
    response = client.post("/documents", json={"documents": documents}, headers=headers)  # type: ignore[attr-defined]
    assert response.status_code == 202, response.get_data(as_text=True)


def _all_pages(client: object, query: str, **headers: str) -> list[str]:
    ids: list[str] = []
    cursor = None
    while True:
        url = f"/documents?{query}" + (f"&cursor={cursor}" if cursor else "")
        response = client.get(url, headers=headers)  # type: ignore[attr-defined]
        assert response.status_code == 200, response.get_data(as_text=True)
        body = response.get_json()
        ids += [d["id"] for d in body["documents"]]
        cursor = body["next_cursor"]
        if cursor is None:
            return ids


def test_the_tenants_documents_page_by_page_with_status_and_prefix(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    client = function_client("ingest", routing=_queue())
    ids = [f"doc-{n:02d}" for n in range(7)] + ["note"]
    _submit(client, tenant, ids)
    version = client.get(f"/documents/doc-03?tenant={tenant}").get_json()["version"]
    DocumentStore(redis_client).mark_failed([(tenant, "doc-03", version)], "boom")

    first = client.get(f"/documents?tenant={tenant}&limit=3").get_json()
    assert [d["id"] for d in first["documents"]] == ["doc-00", "doc-01", "doc-02"]
    assert first["total"] == 8 and first["limit"] == 3
    assert set(first["documents"][0]) >= {"id", "version", "status", "chunks", "updated_at"}
    assert _all_pages(client, f"tenant={tenant}&limit=3") == sorted(ids)
    assert _all_pages(client, f"tenant={tenant}&prefix=doc-&limit=2") == ids[:7]
    failed = client.get(f"/documents?tenant={tenant}&status=failed").get_json()
    assert [(d["id"], d["error"]) for d in failed["documents"]] == [("doc-03", "boom")]
    assert failed["total"] == 1 and failed["next_cursor"] is None
    # Another tenant's listing is its own, and empty.
    other = client.get(f"/documents?tenant={tenant}x").get_json()
    assert other == {"documents": [], "next_cursor": None, "total": 0, "limit": 20}


@pytest.mark.parametrize(
    ("query", "code"),
    [
        ("status=unchanged", "invalid_status"),
        ("status=%2A", "invalid_status"),
        ("limit=0", "invalid_limit"),
        ("limit=101", "invalid_limit"),
        ("limit=-1", "invalid_limit"),
        ("limit=1e2", "invalid_limit"),
        ("limit=%D9%A3", "invalid_limit"),  # an Arabic-Indic 3: a digit, not an ASCII one
        ("cursor=ZG9j%2Acw", "invalid_cursor"),  # "docs" with a character that is not base64
        ("cursor=%21%21", "invalid_cursor"),
        ("cursor=" + base64.urlsafe_b64encode(b"a:b\x00").decode(), "invalid_cursor"),
        ("cursor=" + base64.urlsafe_b64encode(b"\xff\xfe").decode(), "invalid_cursor"),
        ("prefix=" + "x" * 257, "invalid_prefix"),
        ("tenant=A%2A", "invalid_tenant"),
    ],
)
def test_a_bad_listing_query_names_the_problem(
    function_client: FunctionClient, query: str, code: str
) -> None:
    response = function_client("ingest").get(f"/documents?{query}")
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == code
    assert response.get_json()["error"]["message"]


def test_with_keys_a_listing_is_the_keys_tenants_alone(
    function_client: FunctionClient, tenant: str
) -> None:
    other = f"{tenant}x"
    keys = {"key-one-secret": tenant, "key-two-secret": other}
    client = function_client("ingest", auth={"api_keys": keys}, routing=_queue())
    one = {"Authorization": "Bearer key-one-secret"}
    two = {"Authorization": "Bearer key-two-secret"}
    _submit(client, tenant, ["mine"], **one)
    _submit(client, other, ["theirs"], **two)

    assert client.get("/documents").status_code == 401
    assert client.get("/documents", headers={"Authorization": "Bearer no"}).status_code == 401
    assert _all_pages(client, "limit=5", **one) == ["mine"]
    assert _all_pages(client, "limit=5", **two) == ["theirs"]
    assert client.get(f"/documents?tenant={other}", headers=one).status_code == 403


def _form(*files: tuple[str, bytes, str], **fields: str) -> dict[str, object]:
    data: dict[str, object] = dict(fields)
    data["file"] = [(io.BytesIO(body), name, media_type) for name, body, media_type in files]
    return data


def test_files_in_a_form_become_documents(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    queue = f"q-{uuid.uuid4()}"
    client = function_client("ingest", routing={"subscribers": {"transform": {"queue": queue}}})
    form = _form(
        ("Install guide.md", b"# Install\n\nRun it.", "text/markdown"),
        ("notes.txt", "caf\u00e9 notes".encode(), "text/plain"),
        ("README.markdown", b"Read me", "application/octet-stream"),
        tenant=tenant,
        metadata='{"team": "search"}',
    )
    response = client.post("/documents", data=form, content_type="multipart/form-data")

    assert response.status_code == 202, response.get_data(as_text=True)
    results = response.get_json()["documents"]
    assert [(r["id"], r["status"]) for r in results] == [
        ("Install-guide.md", "accepted"),
        ("notes.txt", "accepted"),
        ("README.markdown", "accepted"),
    ]
    source = DocumentStore(redis_client).source(tenant, "notes.txt")
    assert source is not None and source.file is not None
    # A file travels by claim check: its bytes parked in Redis, read (and titled) by transform.
    assert (source.title, source.text, source.metadata) == ("", "", {"team": "search"})
    assert (source.file.name, source.file.media_type, source.file.size) == (
        "notes.txt",
        "text/plain",
        len("café notes".encode()),
    )
    assert redis_client.get(source.file.key) == "caf\u00e9 notes".encode()
    assert Queue(queue, connection=redis_client).count == 1  # one delivery job for the batch
    # The same file again: unchanged.
    again = client.post(
        "/documents",
        data=_form(
            ("notes.txt", "caf\u00e9 notes".encode(), "text/plain"),
            tenant=tenant,
            metadata='{"team": "search"}',
        ),
        content_type="multipart/form-data",
    )
    assert again.get_json()["documents"][0]["status"] == "unchanged"
    named = client.post(
        "/documents",
        data=_form(("x.txt", b"named", "text/plain"), tenant=tenant, id="chosen-id"),
        content_type="multipart/form-data",
    )
    assert named.get_json()["documents"][0]["id"] == "chosen-id"


@pytest.mark.parametrize(
    ("files", "fields", "status", "code", "named"),
    [
        (
            [("photo.png", b"\x89PNG", "image/png")],
            {},
            415,
            "unsupported_media_type",
            "photo.png",
        ),
        ([("a.txt", b"", "text/plain")], {}, 422, "empty_file", "a.txt"),
        ([("a.txt", b"x", "text/plain")], {"metadata": "[1]"}, 422, "invalid_form", "metadata"),
        ([("a.txt", b"x", "text/plain")], {"metadata": "{"}, 422, "invalid_form", "metadata"),
        ([("a.txt", b"x", "text/plain")], {"colour": "red"}, 422, "invalid_form", "colour"),
        ([("a.txt", b"x", "text/plain")], {"id": "../x"}, 422, "validation_failed", "id"),
        (
            [("a.txt", b"x", "text/plain"), ("b.txt", b"y", "text/plain")],
            {"id": "one"},
            422,
            "invalid_form",
            "id",
        ),
        ([], {"metadata": "{}"}, 422, "invalid_form", "file"),
        ([("a.txt", b"x", "text/plain")] * 4, {}, 413, "batch_too_large", "4 files"),
        ([("a.txt", b"x", "text/plain")] * 9, {}, 413, "form_too_large", "3 files"),
        (
            [("a.txt", b"x", "text/plain")],
            {"metadata": "{" + " " * 70000 + "}"},
            413,
            "form_too_large",
            "64 KiB",
        ),
    ],
)
def test_a_bad_form_names_the_problem_and_stores_nothing(
    function_client: FunctionClient,
    redis_client: Redis,
    tenant: str,
    files: list[tuple[str, bytes, str]],
    fields: dict[str, str],
    status: int,
    code: str,
    named: str,
) -> None:
    client = function_client("ingest", ingest={"max_batch_documents": 3}, routing=_queue())
    form = _form(*files, tenant=tenant, **fields)
    response = client.post("/documents", data=form, content_type="multipart/form-data")

    assert response.status_code == status, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == code
    assert named in error["message"] + str(error.get("details", ""))
    assert redis_client.keys(f"sluice:doc:{tenant}:*") == []


def test_a_form_without_a_boundary_or_cut_short_is_refused(
    function_client: FunctionClient, tenant: str
) -> None:
    client = function_client("ingest", routing=_queue())
    no_boundary = client.post(
        "/documents", data=b"--x\r\n", headers={"Content-Type": "multipart/form-data"}
    )
    assert no_boundary.status_code == 422
    assert no_boundary.get_json()["error"]["code"] == "invalid_form"
    cut = (
        b'--b\r\nContent-Disposition: form-data; name="file"; filename="a.txt"\r\n'
        b"Content-Type: text/plain\r\n\r\nhalf a fi"
    )
    response = client.post(
        "/documents", data=cut, headers={"Content-Type": "multipart/form-data; boundary=b"}
    )
    assert response.status_code == 422, response.get_data(as_text=True)
    assert response.get_json()["error"]["code"] == "invalid_form"
