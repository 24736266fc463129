"""Ingest's answers to bad input, backpressure and API keys (real Redis, real entry point)."""

from __future__ import annotations

import json
import uuid

import pytest
from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import CloudEvent
from redis import Redis
from rq import Queue

from dev.stack import ROOT, free_port
from sluice.serve import function_app
from tests.functions.conftest import FunctionClient

LIMITS = {"max_body_bytes": 8192, "max_document_bytes": 1000, "max_batch_documents": 3}
JSON = {"content-type": "application/json"}


def _nested(depth: int) -> dict[str, object]:
    value: dict[str, object] = {"leaf": 1}
    for _ in range(depth):
        value = {"n": value}
    return value


def _queue(name: str) -> dict[str, object]:
    """Routing settings that put transform's deliveries on a queue of the test's own."""
    return {"subscribers": {"transform": {"queue": name}}}


def _event(data: object, **attributes: str) -> CloudEvent:
    return CloudEvent(
        {"type": "dev.sluice.document.submitted", "source": "/tests", **attributes}, data
    )


def _binary_without(attribute: str, tenant: str) -> tuple[dict[str, str], bytes]:
    headers, body = to_binary(_event({"text": "x", "tenant": tenant}))
    headers = {k: v for k, v in headers.items() if k.lower() != f"ce-{attribute}"}
    return {**headers, "content-type": "application/json"}, body


def bad_requests(tenant: str) -> list[tuple[str, str, dict[str, str], bytes, int, str]]:
    """(case, path, headers, body, expected status, expected error code)."""
    doc = {"text": "fine", "tenant": tenant}
    structured_headers, structured = to_structured(_event(doc, type="dev.sluice.unknown"))
    binary_headers, binary = to_binary(_event(doc))
    return [
        ("invalid JSON", "/documents", JSON, b'{"text": ', 400, "invalid_json"),
        ("not UTF-8", "/documents", JSON, b'{"text": "\xff\xfe"}', 400, "invalid_encoding"),
        ("empty body", "/documents", JSON, b"", 400, "empty_body"),
        (
            "wrong content type",
            "/documents",
            {"content-type": "text/csv"},
            b"hello",
            415,
            "unsupported_media_type",
        ),
        (
            "no content type",
            "/documents",
            {},
            json.dumps(doc).encode(),
            415,
            "unsupported_media_type",
        ),
        (
            "empty text",
            "/documents",
            JSON,
            json.dumps({**doc, "text": ""}).encode(),
            422,
            "validation_failed",
        ),
        (
            "blank text",
            "/documents",
            JSON,
            json.dumps({**doc, "text": " \n\t"}).encode(),
            422,
            "validation_failed",
        ),
        (
            "lone surrogate",
            "/documents",
            JSON,
            b'{"text": "\\ud800", "tenant": "' + tenant.encode() + b'"}',
            422,
            "validation_failed",
        ),
        (
            "no text",
            "/documents",
            JSON,
            json.dumps({"title": "t", "tenant": tenant}).encode(),
            422,
            "validation_failed",
        ),
        (
            "text not a string",
            "/documents",
            JSON,
            json.dumps({**doc, "text": 5}).encode(),
            422,
            "validation_failed",
        ),
        (
            "unknown field",
            "/documents",
            JSON,
            json.dumps({**doc, "body": "x"}).encode(),
            422,
            "validation_failed",
        ),
        (
            "bad id",
            "/documents",
            JSON,
            json.dumps({**doc, "id": "a/b c"}).encode(),
            422,
            "validation_failed",
        ),
        (
            "metadata not an object",
            "/documents",
            JSON,
            json.dumps({**doc, "metadata": [1]}).encode(),
            422,
            "validation_failed",
        ),
        ("not an object", "/documents", JSON, b"[1, 2]", 422, "invalid_payload"),
        # Values Milvus cannot store, or Python cannot parse, are refused before anything is
        # written (issue 11: they were answered 500, some after the records were written).
        (
            "metadata nested 300 levels",
            "/documents",
            JSON,
            json.dumps({**doc, "metadata": _nested(300)}).encode(),
            422,
            "validation_failed",
        ),
        (
            "JSON nested 1,500 levels",
            "/documents",
            JSON,
            b"[" * 1500 + b"]" * 1500,
            400,
            "invalid_json",
        ),
        (
            "a 5,000-digit integer",
            "/documents",
            JSON,
            b'{"text": "t", "metadata": {"n": ' + b"9" * 5000 + b"}}",
            400,
            "invalid_json",
        ),
        (
            "an integer beyond 64 bits",
            "/documents",
            JSON,
            json.dumps({**doc, "metadata": {"n": 2**64}}).encode(),
            422,
            "validation_failed",
        ),
        ("NaN", "/documents", JSON, b'{"text": "t", "metadata": {"x": NaN}}', 400, "invalid_json"),
        (
            "Infinity",
            "/documents",
            JSON,
            b'{"text": "t", "metadata": {"x": -Infinity}}',
            400,
            "invalid_json",
        ),
        (
            "a lone surrogate in a metadata value",
            "/documents",
            JSON,
            b'{"text": "t", "metadata": {"k": "\\ud800"}}',
            422,
            "validation_failed",
        ),
        (
            "a lone surrogate in a metadata key",
            "/documents",
            JSON,
            b'{"text": "t", "metadata": {"\\udc00": 1}}',
            422,
            "validation_failed",
        ),
        (
            "an empty tenant",
            "/documents",
            JSON,
            json.dumps({**doc, "tenant": ""}).encode(),
            422,
            "validation_failed",
        ),
        ("empty batch", "/documents", JSON, b'{"documents": []}', 422, "validation_failed"),
        (
            "duplicate ids",
            "/documents",
            JSON,
            json.dumps(
                {"documents": [{**doc, "id": "same"}, {**doc, "id": "same", "text": "other"}]}
            ).encode(),
            422,
            "duplicate_id",
        ),
        (
            "body over the limit",
            "/documents",
            JSON,
            json.dumps({**doc, "text": "x" * 9000}).encode(),
            413,
            "body_too_large",
        ),
        (
            "document over the limit",
            "/documents",
            JSON,
            json.dumps({**doc, "text": "é" * 600}).encode(),
            413,
            "document_too_large",
        ),
        (
            "batch over the limit",
            "/documents",
            JSON,
            json.dumps({"documents": [doc] * 4}).encode(),
            413,
            "batch_too_large",
        ),
        ("event without id", "/", *_binary_without("id", tenant), 400, "invalid_cloudevent"),
        (
            "event without source",
            "/",
            *_binary_without("source", tenant),
            400,
            "invalid_cloudevent",
        ),
        ("event of unknown type", "/", structured_headers, structured, 400, "unknown_event_type"),
        # Issue 11 (schemathesis): an event with an empty source, or without a specversion
        # (the SDK made one up), was accepted.
        (
            "structured event with an empty source",
            "/",
            {"content-type": "application/cloudevents+json"},
            json.dumps(
                {
                    "specversion": "1.0",
                    "id": "1",
                    "source": "",
                    "type": "dev.sluice.document.submitted",
                    "data": doc,
                }
            ).encode(),
            400,
            "invalid_cloudevent",
        ),
        (
            "structured event without specversion",
            "/documents",
            {"content-type": "application/cloudevents+json"},
            json.dumps(
                {"id": "1", "source": "/t", "type": "dev.sluice.document.submitted", "data": doc}
            ).encode(),
            400,
            "invalid_cloudevent",
        ),
        (
            "structured event, bad JSON",
            "/",
            {"content-type": "application/cloudevents+json"},
            b'{"specversion": "1.0",',
            400,
            "invalid_json",
        ),
        (
            "structured event without type",
            "/",
            {"content-type": "application/cloudevents+json"},
            json.dumps({"specversion": "1.0", "id": "1", "source": "/t", "data": doc}).encode(),
            400,
            "invalid_cloudevent",
        ),
        (
            "binary event, XML data",
            "/",
            {**binary_headers, "content-type": "application/xml"},
            b"<doc/>",
            415,
            "unsupported_media_type",
        ),
        (
            "binary event, invalid data",
            "/",
            {**binary_headers},
            json.dumps({"text": ""}).encode(),
            422,
            "validation_failed",
        ),
        ("unknown route", "/nowhere", JSON, binary, 404, "not_found"),
    ]


def test_every_bad_input_gets_its_status_and_error_and_nothing_is_stored(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    queue = f"q-{uuid.uuid4()}"
    client = function_client("ingest", ingest=LIMITS, routing=_queue(queue))
    for case, path, headers, body, status, code in bad_requests(tenant):
        response = client.post(path, headers=headers, data=body)
        assert response.status_code == status, (case, response.get_data(as_text=True))
        error = response.get_json()["error"]
        assert error["code"] == code, case
        assert error["message"], case
    assert redis_client.keys(f"sluice:doc:{tenant}:*") == []
    assert Queue(queue, connection=redis_client).count == 0  # nothing published


@pytest.mark.parametrize(
    ("method", "status", "code"),
    [
        ("get", 404, "document_not_found"),
        ("delete", 404, "document_not_found"),
        ("put", 405, "method_not_allowed"),
    ],
)
def test_unknown_documents_and_wrong_methods(
    function_client: FunctionClient, tenant: str, method: str, status: int, code: str
) -> None:
    client = function_client("ingest")
    response = getattr(client, method)(f"/documents/unknown?tenant={tenant}")
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code
    if status == 405:  # RFC 9110; it was missing (issue 11, schemathesis)
        assert response.headers["Allow"] == "DELETE, GET, HEAD"


@pytest.mark.parametrize("keys", [{}, {"key-empty-tenant": "acme"}])
@pytest.mark.parametrize("method", ["get", "delete"])
def test_an_empty_tenant_in_the_query_is_refused_not_taken_for_none(
    function_client: FunctionClient, keys: dict[str, str], method: str
) -> None:
    """Issue 11, item 7: `?tenant=` names no tenant name; it is not "no tenant named"."""
    client = function_client("ingest", auth={"api_keys": keys})
    headers = {"Authorization": "Bearer key-empty-tenant"} if keys else {}
    response = getattr(client, method)("/documents/some-doc?tenant=", headers=headers)
    assert response.status_code == 422, response.get_data(as_text=True)
    error = response.get_json()["error"]
    assert error["code"] == "invalid_tenant"
    assert "tenant" in error["message"]


@pytest.mark.parametrize("keys", [{}, {"key-empty-tenant": "acme"}])
def test_an_empty_tenant_in_a_document_is_refused(
    function_client: FunctionClient, redis_client: Redis, keys: dict[str, str]
) -> None:
    client = function_client("ingest", auth={"api_keys": keys})
    headers = {"Authorization": "Bearer key-empty-tenant"} if keys else {}
    doc_id = f"empty-tenant-{uuid.uuid4().hex[:8]}"
    document = {"id": doc_id, "text": "x", "tenant": ""}
    for body in (document, {"documents": [document]}):
        response = client.post("/documents", json=body, headers=headers)
        assert response.status_code == 422, response.get_data(as_text=True)
        error = response.get_json()["error"]
        assert error["code"] == "validation_failed"
        assert [d["field"].rsplit(".", 1)[-1] for d in error["details"]] == ["tenant"]
    assert redis_client.keys(f"sluice:doc:*:{doc_id}") == []


def test_the_served_app_answers_paths_no_rule_matches_in_json(
    monkeypatch: pytest.MonkeyPatch,
) -> None:
    """functions-framework's URL rules match no path with a line break (nor `/robots.txt`):
    Flask answered those with an HTML page (issue 11, schemathesis)."""
    monkeypatch.setenv("SLUICE_CONF_DIR", str(ROOT / "conf"))
    monkeypatch.setenv("FUNCTION_SOURCE", str(ROOT / "functions" / "ingest" / "main.py"))
    monkeypatch.setenv("FUNCTION_TARGET", "ingest")
    client = function_app().test_client()
    for path in ("/documents/a%0Ab", "/a%0A", "/robots.txt"):
        response = client.get(path)
        assert response.status_code == 404, path
        assert response.mimetype == "application/json", path
        assert response.get_json()["error"]["code"] == "not_found", path
    assert client.get("/healthz").get_json() == {"status": "ok"}


def test_a_full_queue_answers_429_with_retry_after(
    function_client: FunctionClient, tenant: str
) -> None:
    # A queue no worker serves, so its depth only grows.
    client = function_client(
        "ingest",
        ingest={"queue_bound": 2, "retry_after_seconds": 7},
        routing=_queue(f"q-{uuid.uuid4()}"),
    )
    for n in range(3):  # three delivery jobs waiting: one over the bound
        document = {"text": f"document {n}", "tenant": tenant}
        assert client.post("/documents", json=document).status_code == 202
    response = client.post("/documents", json={"text": "one too many", "tenant": tenant})
    assert response.status_code == 429
    assert response.headers["Retry-After"] == "7"
    assert response.get_json()["error"]["code"] == "queue_full"


def test_with_api_keys_the_tenant_comes_from_the_key(
    function_client: FunctionClient, redis_client: Redis
) -> None:
    alpha, beta = f"a{uuid.uuid4().hex[:8]}", f"b{uuid.uuid4().hex[:8]}"
    keys = {"key-alpha-secret": alpha, "key-beta-secret": beta}
    client = function_client("ingest", auth={"api_keys": keys})
    doc = {"id": "keyed", "text": "Belongs to whoever holds the key."}

    assert client.post("/documents", json=doc).status_code == 401
    wrong = client.post("/documents", json=doc, headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401
    assert wrong.get_json()["error"]["code"] == "unauthorized"
    alpha_auth = {"Authorization": "Bearer key-alpha-secret"}
    other = client.post("/documents", json={**doc, "tenant": beta}, headers=alpha_auth)
    assert other.status_code == 403

    accepted = client.post("/documents", json=doc, headers=alpha_auth)
    assert accepted.status_code == 202
    assert "tenant=" not in accepted.get_json()["status_url"]
    assert redis_client.exists(f"sluice:doc:{alpha}:keyed")
    assert client.get("/documents/keyed", headers=alpha_auth).status_code == 200
    beta_auth = {"Authorization": "Bearer key-beta-secret"}
    assert client.get("/documents/keyed", headers=beta_auth).status_code == 404
    assert client.get(f"/documents/keyed?tenant={alpha}", headers=beta_auth).status_code == 403
    assert client.get("/documents/keyed").status_code == 401
    assert client.delete("/documents/keyed", headers=beta_auth).status_code == 404


def test_health_readiness_and_metrics(function_client: FunctionClient) -> None:
    client = function_client("ingest")
    assert client.get("/healthz").get_json() == {"status": "ok"}
    assert client.get("/readyz").status_code == 200
    client.post("/documents", data=b"{", headers=JSON)
    metrics = client.get("/metrics").get_data(as_text=True)
    assert (
        'sluice_function_requests_total{function="ingest",outcome="4xx",'
        'route="/documents"}' in metrics
    )


def test_without_redis_ingest_is_not_ready_and_answers_503(
    function_client: FunctionClient, tenant: str
) -> None:
    nobody = Redis.from_url(f"redis://127.0.0.1:{free_port()}/0", socket_connect_timeout=1)
    client = function_client("ingest", redis=nobody)
    assert client.get("/healthz").status_code == 200
    ready = client.get("/readyz")
    assert ready.status_code == 503
    assert ready.get_json()["error"]["code"] == "redis_unavailable"
    response = client.post("/documents", json={"text": "nowhere to go", "tenant": tenant})
    assert response.status_code == 503
