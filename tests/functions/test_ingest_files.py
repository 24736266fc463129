"""A file as the request body: what the client says about it (query or headers), its version
(the bytes' hash), its claim check, and its limits (real Redis, real container)."""

from __future__ import annotations

import io
import uuid
from urllib.parse import quote

from redis import Redis

from sluice.extract.formats import PDF
from sluice.stores.documents import DocumentStore
from tests.functions.conftest import FunctionClient


def _routing() -> dict[str, object]:
    return {"subscribers": {"transform": {"queue": f"q-{uuid.uuid4()}"}}}


def test_a_raw_file_is_parked_and_named_by_its_headers(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    client = function_client("ingest", routing=_routing())
    body = b"%PDF-1.4 pretend"
    response = client.post(
        "/documents",
        data=body,
        headers={
            "Content-Type": PDF,
            "Content-Disposition": 'attachment; filename="Q3 report.pdf"',
            "Sluice-Tenant": tenant,
            "Sluice-Title": quote("Rapport trimestriel \u2014 T3"),
            "Sluice-Metadata": quote('{"team": "f\u00fcnf"}'),
        },
    )

    assert response.status_code == 202, response.get_data(as_text=True)
    assert response.get_json()["id"] == "Q3-report.pdf"
    source = DocumentStore(redis_client).source(tenant, "Q3-report.pdf")
    assert source is not None and source.file is not None
    assert (source.title, source.metadata) == (
        "Rapport trimestriel \u2014 T3",
        {"team": "f\u00fcnf"},
    )
    assert (source.file.name, source.file.media_type, source.file.size) == (
        "Q3 report.pdf",
        PDF,
        len(body),
    )
    assert redis_client.get(source.file.key) == body
    assert redis_client.ttl(source.file.key) > 0  # a claim check expires


def test_the_version_is_the_files_hash_not_its_name(
    function_client: FunctionClient, tenant: str
) -> None:
    client = function_client("ingest", routing=_routing())

    def post(body: bytes, doc_id: str) -> dict[str, str]:
        response = client.post(
            f"/documents?tenant={tenant}&id={doc_id}", data=body, content_type="text/markdown"
        )
        assert response.status_code == 202, response.get_data(as_text=True)
        result: dict[str, str] = response.get_json()
        return result

    first = post(b"# Notes\n\nSame bytes.", "a")
    assert post(b"# Notes\n\nSame bytes.", "a")["status"] == "unchanged"
    assert post(b"# Notes\n\nSame bytes.", "b")["version"] == first["version"]
    changed = post(b"# Notes\n\nOther bytes.", "a")
    assert changed["status"] == "accepted" and changed["version"] != first["version"]


def test_a_file_over_the_limit_is_413_and_stores_nothing(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    client = function_client("ingest", ingest={"max_file_bytes": 2048}, routing=_routing())
    response = client.post(
        f"/documents?tenant={tenant}&filename=big.txt", data=b"x" * 2049, content_type="text/plain"
    )

    assert response.status_code == 413
    error = response.get_json()["error"]
    assert error["code"] == "file_too_large" and "2048" in error["message"]
    parked = [redis_client.get(key) for key in redis_client.scan_iter("sluice:file:*")]
    assert b"x" * 2049 not in parked
    assert redis_client.keys(f"sluice:doc:{tenant}:*") == []


def test_a_file_named_only_by_its_suffix_is_read_by_it(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    client = function_client("ingest", routing=_routing())
    response = client.post(
        f"/documents?tenant={tenant}&filename=guide.docx",
        data=b"PK\x03\x04",
        content_type="application/octet-stream",
    )
    assert response.status_code == 202, response.get_data(as_text=True)
    source = DocumentStore(redis_client).source(tenant, "guide.docx")
    assert source is not None and source.file is not None
    assert source.file.media_type.endswith("wordprocessingml.document")
    unknown = client.post(
        f"/documents?tenant={tenant}&filename=blob.bin",
        data=b"\x00\x01",
        content_type="application/octet-stream",
    )
    assert unknown.status_code == 415  # neither a type nor a name Sluice reads: JSON's 415


def test_hostile_metadata_is_a_422_not_a_crash(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    client = function_client("ingest", routing=_routing())
    huge_number = '{"a": ' + "1" * 5000 + "}"
    deep = '{"a": ' + "[" * 1500 + "]" * 1500 + "}"
    for metadata in (huge_number, deep):
        raw = client.post(
            f"/documents?tenant={tenant}&filename=a.txt",
            data=b"x",
            content_type="text/plain",
            headers={"Sluice-Metadata": quote(metadata)},
        )
        # 3.11 refuses the nesting while parsing; 3.13 parses it, and the metadata check
        # refuses it (nested deeper than 16 levels): a 422 either way
        assert raw.status_code == 422, raw.get_data(as_text=True)
        assert raw.get_json()["error"]["code"] in ("invalid_parameter", "validation_failed")
        form = client.post(
            "/documents",
            data={"tenant": tenant, "metadata": metadata, "file": (io.BytesIO(b"x"), "a.txt")},
            content_type="multipart/form-data",
        )
        assert form.status_code == 422, form.get_data(as_text=True)
        assert form.get_json()["error"]["code"] in ("invalid_form", "validation_failed")
    assert redis_client.keys(f"sluice:doc:{tenant}:*") == []
