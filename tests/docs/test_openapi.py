"""The search service's OpenAPI document (`docs/api/searchapi.openapi.yaml`) is a valid OpenAPI
3.1 document and states the contract: its routes and methods, one error shape for every error
answer, the documented error codes, and examples that match their schemas. Ingest's
(`docs/api/ingest.openapi.yaml`) is valid with matching examples too, and both state the
patterns the servers enforce. (tests/integration/test_api_contracts.py runs them against the
servers.)"""

from __future__ import annotations

import re
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import pytest
import yaml
from openapi_schema_validator import OAS31Validator, oas31_format_checker
from openapi_spec_validator import OpenAPIV31SpecValidator, validate

from sluice.events import DOCUMENT_ID_PATTERN, TENANT_PATTERN

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "docs" / "api" / "searchapi.openapi.yaml"
INGEST_SPEC_PATH = ROOT / "docs" / "api" / "ingest.openapi.yaml"
ERROR_REF = "#/components/schemas/Error"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

EXPECTED_ROUTES = {
    "/v1/search": {"get", "post"},
    "/v1/documents/{id}": {"get"},
    "/healthz": {"get"},
    "/readyz": {"get"},
    "/metrics": {"get"},
}
ERROR_CODES = {
    "400": {
        "invalid_query",
        "invalid_k",
        "invalid_mode",
        "invalid_offset",
        "invalid_filter",
        "invalid_json",
        "invalid_tenant",
        "invalid_id",
    },
    "401": {"unauthorized"},
    "403": {"forbidden"},
    "404": {"not_found"},
    "405": {"method_not_allowed"},
    "500": {"internal_error", "milvus_error", "embedder_mismatch"},
    "503": {
        "milvus_unavailable",
        "redis_unavailable",
        "embedder_unavailable",
        "timeout",
        "overloaded",
    },
}


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = yaml.safe_load(f)
    return loaded


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load(SPEC_PATH)


@pytest.fixture(scope="module", params=[SPEC_PATH, INGEST_SPEC_PATH], ids=["searchapi", "ingest"])
def any_spec(request: pytest.FixtureRequest) -> dict[str, Any]:
    return load(request.param)


def resolve(spec: dict[str, Any], node: dict[str, Any]) -> dict[str, Any]:
    """Follow a local `$ref` (one level per call, repeatedly) to the object it names."""
    while "$ref" in node:
        ref = node["$ref"]
        assert ref.startswith("#/"), f"only local references expected, got {ref}"
        target: Any = spec
        for part in ref[2:].split("/"):
            target = target[part.replace("~1", "/").replace("~0", "~")]
        node = target
    return node


def operations(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    for path, item in spec["paths"].items():
        for method, operation in item.items():
            if method in METHODS:
                yield path, method, operation


def error_responses(spec: dict[str, Any]) -> Iterator[tuple[str, str, dict[str, Any]]]:
    """(where, status, response) for every 4xx/5xx response of every operation, and every
    response in components that is not a success."""
    for path, method, operation in operations(spec):
        for status, response in operation["responses"].items():
            if str(status)[0] in "45":
                yield f"{method.upper()} {path}", str(status), response
    for name, response in spec["components"]["responses"].items():
        if name != "SearchResults":
            yield f"components.responses.{name}", "", response


def test_is_a_valid_openapi_3_1_document(any_spec: dict[str, Any]) -> None:
    assert any_spec["openapi"] == "3.1.0"
    validate(any_spec, cls=OpenAPIV31SpecValidator)


def go_pattern(name: str) -> str:
    """A pattern searchapi enforces, from its source (`name = regexp.MustCompile(`...`)`)."""
    source = (ROOT / "searchapi" / "internal" / "search" / "scope.go").read_text()
    match = re.search(name + r" += regexp\.MustCompile\(`([^`]+)`\)", source)
    assert match, name
    return match.group(1)


def test_the_specs_state_the_patterns_the_servers_enforce(any_spec: dict[str, Any]) -> None:
    """Issue 11, item 7: the metadata-key pattern searchapi enforces was only in prose."""
    schemas = any_spec["components"]["schemas"]
    assert schemas["Tenant"]["pattern"] == TENANT_PATTERN == go_pattern("tenantName")
    assert schemas["DocumentId"]["pattern"] == DOCUMENT_ID_PATTERN == go_pattern("documentID")
    assert schemas["MetadataKey"]["pattern"] == go_pattern("metadataKey")


def test_the_search_filter_constrains_its_metadata_keys(spec: dict[str, Any]) -> None:
    search_filter = spec["components"]["schemas"]["SearchFilter"]
    metadata = search_filter["properties"]["metadata"]
    assert metadata["propertyNames"] == {"$ref": "#/components/schemas/MetadataKey"}


def test_has_exactly_the_contracted_routes_and_methods(spec: dict[str, Any]) -> None:
    routes = {path: set(item) & METHODS for path, item in spec["paths"].items()}
    assert routes == EXPECTED_ROUTES


def test_every_error_response_uses_the_error_schema(spec: dict[str, Any]) -> None:
    checked = 0
    for where, status, response in error_responses(spec):
        content = resolve(spec, response).get("content", {})
        assert set(content) == {"application/json"}, (where, status)
        assert content["application/json"]["schema"] == {"$ref": ERROR_REF}, (where, status)
        checked += 1
    assert checked > len(EXPECTED_ROUTES)
    error = resolve(spec, {"$ref": ERROR_REF})
    assert error["required"] == ["error"]
    assert set(error["properties"]["error"]["required"]) == {"code", "message"}


def test_error_examples_cover_exactly_the_documented_codes(spec: dict[str, Any]) -> None:
    seen: dict[str, set[str]] = {}
    for where, status, response in error_responses(spec):
        media = resolve(spec, response)["content"]["application/json"]
        examples = [media["example"]] if "example" in media else []
        examples += [resolve(spec, e)["value"] for e in media.get("examples", {}).values()]
        assert examples, f"{where}: no example"
        for example in examples:
            code = example["error"]["code"]
            if status:
                assert code in ERROR_CODES[status], (where, status, code)
            seen.setdefault(code, set()).add(where)
    assert set(seen) == set().union(*ERROR_CODES.values())
    method_not_allowed = resolve(spec, {"$ref": "#/components/responses/MethodNotAllowed"})
    example = method_not_allowed["content"]["application/json"]["example"]
    assert example["error"]["code"] == "method_not_allowed"


def test_v1_routes_take_an_optional_bearer_key_and_the_rest_none(spec: dict[str, Any]) -> None:
    scheme = spec["components"]["securitySchemes"]["bearerAuth"]
    assert (scheme["type"], scheme["scheme"]) == ("http", "bearer")
    for path, method, operation in operations(spec):
        if path.startswith("/v1/"):
            assert operation["security"] == [{"bearerAuth": []}, {}], (method, path)
            assert {"401", "403", "500", "503"} <= set(map(str, operation["responses"]))
        else:
            assert operation["security"] == [], (method, path)


def test_search_parameters_and_body_state_the_limits(spec: dict[str, Any]) -> None:
    get = spec["paths"]["/v1/search"]["get"]
    params = {p["name"]: p for p in (resolve(spec, p) for p in get["parameters"])}
    assert set(params) == {"q", "k", "mode", "offset", "tenant"}
    assert params["q"]["required"] is True
    assert (params["q"]["schema"]["minLength"], params["q"]["schema"]["maxLength"]) == (1, 2000)
    k = params["k"]["schema"]
    assert (k["type"], k["default"], k["minimum"], k["maximum"]) == ("integer", 10, 1, 100)
    offset = params["offset"]["schema"]
    assert (offset["default"], offset["minimum"], offset["maximum"]) == (0, 0, 1000)
    mode = resolve(spec, params["mode"]["schema"])
    assert (mode["enum"], mode["default"]) == (["hybrid", "dense", "text"], "hybrid")

    body = resolve(spec, spec["components"]["schemas"]["SearchRequest"])
    assert body["additionalProperties"] is False
    assert body["required"] == ["query"]
    assert set(body["properties"]) == {
        "query",
        "k",
        "mode",
        "offset",
        "tenant",
        "filter",
        "min_score",
    }
    assert body["properties"]["filter"]["anyOf"][1] == {"type": "null"}  # null: no filter
    search_filter = resolve(spec, body["properties"]["filter"]["anyOf"][0])
    assert search_filter["additionalProperties"] is False
    assert set(search_filter["properties"]) == {"metadata", "document_id"}
    assert "^[A-Za-z_][A-Za-z0-9_]{0,63}$" in search_filter["properties"]["metadata"]["description"]


def test_document_status_fields(spec: dict[str, Any]) -> None:
    status = spec["components"]["schemas"]["DocumentStatus"]
    assert set(status["properties"]) == set(status["required"]) | {"indexed_at"}
    assert status["properties"]["status"]["enum"] == [
        "accepted",
        "transforming",
        "embedded",
        "indexed",
        "failed",
        "deleted",
    ]
    assert status["properties"]["error"]["type"] == ["string", "null"]


def media_examples(spec: dict[str, Any]) -> Iterator[tuple[str, dict[str, Any], Any]]:
    """(where, schema, example) for every example of a JSON request or response body."""
    bodies: list[tuple[str, dict[str, Any]]] = []
    for path, method, operation in operations(spec):
        if "requestBody" in operation:
            bodies.append((f"{method.upper()} {path} body", operation["requestBody"]))
        for status, response in operation["responses"].items():
            bodies.append((f"{method.upper()} {path} {status}", response))
    for where, body in bodies:
        media = resolve(spec, body).get("content", {}).get("application/json")
        if media is None:
            continue
        if "example" in media:
            yield where, media["schema"], media["example"]
        for name, example in media.get("examples", {}).items():
            yield f"{where} ({name})", media["schema"], resolve(spec, example)["value"]


def test_examples_match_their_schemas(any_spec: dict[str, Any]) -> None:
    count = 0
    for where, schema, example in media_examples(any_spec):
        # The schema is checked inside the whole document so that its references resolve.
        root = {**schema, "components": any_spec["components"]}
        errors = list(
            OAS31Validator(root, format_checker=oas31_format_checker).iter_errors(example)
        )
        assert not errors, f"{where}: {errors[0].message}"
        count += 1
    assert count >= 20
