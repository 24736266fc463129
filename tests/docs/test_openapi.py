"""The search service's OpenAPI document (`docs/api/searchapi.openapi.yaml`) is a valid OpenAPI
3.1 document and states the contract: its routes and methods, one error shape for every error
answer, the documented error codes, and examples that match their schemas. Ingest's
(`docs/api/ingest.openapi.yaml`) is valid with matching examples too, and states the routes
its code serves; both state the patterns the servers enforce, and searchapi's `/v1/ingest/`
routes are ingest's, as its proxy forwards them. (tests/integration/test_api_contracts.py runs
them against the servers.)"""

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
from sluice.extract.formats import FORMATS, SUFFIXES, UNTYPED
from sluice_ingest.files import RAW_FIELDS

ROOT = Path(__file__).resolve().parents[2]
SPEC_PATH = ROOT / "docs" / "api" / "searchapi.openapi.yaml"
INGEST_SPEC_PATH = ROOT / "docs" / "api" / "ingest.openapi.yaml"
ERROR_REF = "#/components/schemas/Error"
METHODS = {"get", "put", "post", "delete", "options", "head", "patch", "trace"}

# The API's routes; every other GET path serves the web console, which is no part of the
# contract (the spec's introduction says so).
EXPECTED_ROUTES = {
    "/v1/search": {"get", "post"},
    "/v1/documents/{id}": {"get"},
    "/v1/documents/{id}/chunks": {"get"},
    "/v1/ops": {"get"},
    "/v1/ingest/documents": {"get", "post"},
    "/v1/ingest/documents/{id}": {"get", "delete"},
    "/v1/ingest/dead-letters": {"get"},
    "/v1/ingest/dead-letters/replay": {"post"},
    "/healthz": {"get"},
    "/readyz": {"get"},
    "/metrics": {"get"},
}
# searchapi's own codes...
SEARCHAPI_ERROR_CODES = {
    "400": {
        "invalid_query",
        "invalid_k",
        "invalid_mode",
        "invalid_offset",
        "invalid_filter",
        "invalid_fusion",
        "invalid_group_by",
        "invalid_min_score",
        "invalid_json",
        "invalid_tenant",
        "invalid_id",
        "invalid_limit",
    },
    "401": {"unauthorized"},
    "403": {"forbidden"},
    "404": {"not_found"},
    "405": {"method_not_allowed"},
    "413": {"payload_too_large"},
    "500": {"internal_error", "milvus_error", "embedder_mismatch", "analyzer_mismatch"},
    "502": {"ingest_unavailable"},
    "503": {
        "milvus_unavailable",
        "redis_unavailable",
        "embedder_unavailable",
        "timeout",
        "overloaded",
    },
    "504": {"ingest_timeout"},
}
# ...and ingest's, in the answers /v1/ingest/ forwards.
FORWARDED_ERROR_CODES = {
    "400": {
        "invalid_json",
        "invalid_encoding",
        "empty_body",
        "incomplete_body",
        "invalid_cloudevent",
        "unknown_event_type",
        "invalid_event_data",
    },
    "403": {"forbidden"},
    "404": {"document_not_found"},
    "411": {"length_required"},
    "413": {
        "body_too_large",
        "batch_too_large",
        "document_too_large",
        "metadata_too_large",
        "form_too_large",
        "file_too_large",
    },
    "415": {"unsupported_media_type"},
    "422": {
        "validation_failed",
        "invalid_payload",
        "mixed_tenants",
        "duplicate_id",
        "invalid_form",
        "invalid_parameter",
        "empty_file",
        "invalid_status",
        "invalid_prefix",
        "invalid_limit",
        "invalid_cursor",
        "invalid_tenant",
        "invalid_id",
    },
    "429": {"queue_full"},
    "500": {"internal_error"},
    "503": {"redis_unavailable", "enqueue_failed", "document_locked"},
}
ERROR_CODES = {
    status: SEARCHAPI_ERROR_CODES.get(status, set()) | FORWARDED_ERROR_CODES.get(status, set())
    for status in SEARCHAPI_ERROR_CODES.keys() | FORWARDED_ERROR_CODES.keys()
}
# What searchapi's proxy adds to ingest's answers: its key check, its body limit, its own
# failures to reach ingest, and its 404 for a path it does not forward (an id holding `/`).
PROXY_ERROR_CODES = {
    "401": {"unauthorized"},
    "404": {"not_found"},
    "413": {"payload_too_large"},
    "502": {"ingest_unavailable"},
    "504": {"ingest_timeout"},
}
INGEST_PREFIX = "/v1/ingest"


def load(path: Path) -> dict[str, Any]:
    with path.open(encoding="utf-8") as f:
        loaded: dict[str, Any] = yaml.safe_load(f)
    return loaded


@pytest.fixture(scope="module")
def spec() -> dict[str, Any]:
    return load(SPEC_PATH)


@pytest.fixture(scope="module")
def ingest_spec() -> dict[str, Any]:
    return load(INGEST_SPEC_PATH)


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
    # All of them the API's: what `apiPath` (console.go) never hands to the web console.
    source = (ROOT / "searchapi" / "internal" / "server" / "console.go").read_text()
    assert 'p == "/v1" || strings.HasPrefix(p, "/v1/")' in source
    for path in routes:
        assert path.startswith("/v1/") or path in {"/healthz", "/readyz", "/metrics"}, path
    assert "web console" in spec["info"]["description"]


def python_routes() -> dict[str, set[str]]:
    """The routes ingest serves, from its source: its own `Route(...)` table (api.py) and the
    ones every function has (sluice/http.py), `<doc_id>` as `{id}`."""
    routes: dict[str, set[str]] = {}
    for source in (
        ROOT / "functions" / "ingest" / "sluice_ingest" / "api.py",
        ROOT / "shared" / "sluice" / "http.py",
    ):
        for rule, methods in re.findall(r'Route\("([^"]*)", \(([^)]*)\)', source.read_text()):
            path = re.sub(r"<[a-z_]+>", "{id}", rule)
            routes.setdefault(path, set()).update(
                m.lower() for m in re.findall(r'"(\w+)"', methods)
            )
    return routes


def test_ingest_states_exactly_the_routes_its_code_serves(ingest_spec: dict[str, Any]) -> None:
    routes = {path: set(item) & METHODS for path, item in ingest_spec["paths"].items()}
    assert routes == python_routes()
    assert {"/documents", "/dead-letters", "/dead-letters/replay"} <= set(routes)
    for path, method, operation in operations(ingest_spec):
        # A known path with another method: 405 with `Allow` (werkzeug adds HEAD to GET).
        response = resolve(ingest_spec, operation["responses"]["405"])
        assert "Allow" in response["headers"], (method, path)


SUBMISSIONS = ("/documents", "/")
ENCODINGS = {"application/json", "application/cloudevents+json", "multipart/form-data"}


def test_ingest_takes_as_files_exactly_the_types_sluice_reads(ingest_spec: dict[str, Any]) -> None:
    """A raw body of each type `sluice.extract.formats` reads (or `application/octet-stream`
    with a name of its suffixes) is a file; a form's file parts are of the same types."""
    file_types = set(FORMATS) | (UNTYPED - {""})
    assert set(SUFFIXES.values()) <= set(FORMATS)
    for path in SUBMISSIONS:
        operation = ingest_spec["paths"][path]["post"]
        content = resolve(ingest_spec, operation["requestBody"])["content"]
        assert set(content) == ENCODINGS | file_types, path
        for media_type in file_types:
            assert content[media_type]["schema"] == {"$ref": "#/components/schemas/File"}
        form_types = content["multipart/form-data"]["encoding"]["file"]["contentType"]
        assert {t.strip() for t in form_types.split(",")} == file_types, path
    described = ingest_spec["info"]["description"]  # the table of the Files section
    for name in [f"`{media_type}`" for media_type in FORMATS] + [f"`*{s}`" for s in SUFFIXES]:
        assert name in described, name


def test_a_raw_files_parameters_are_the_ones_ingest_reads(ingest_spec: dict[str, Any]) -> None:
    """The query parameters and headers of a file sent as the body (`RAW_FIELDS`, files.py),
    all optional, on both submission routes."""
    headers = {header for header in RAW_FIELDS.values() if header} | {"Content-Disposition"}
    for path in SUBMISSIONS:
        found = parameters(ingest_spec, path, "post")
        assert {name for name, where in found if where == "query"} == set(RAW_FIELDS), path
        assert {name for name, where in found if where == "header"} == headers, path
        assert not any(required for _, required in found.values()), path


def go_json_fields(source: str, struct: str) -> set[str]:
    """The JSON names of a Go struct's fields (searchapi/internal/search/<source>)."""
    text = (ROOT / "searchapi" / "internal" / "search" / source).read_text()
    match = re.search(r"type " + struct + r" struct \{(.*?)\n\}", text, re.S)
    assert match, struct
    return set(re.findall(r'`json:"([a-z_]+)[,"]', match.group(1)))


def test_hits_and_chunks_say_where_they_came_from(spec: dict[str, Any]) -> None:
    """Every hit and stored chunk carries `Citation`'s fields (search.go), and the search
    filter takes the operators and fields filter.go reads, within its bounds."""
    citation = go_json_fields("search.go", "Citation")
    assert citation == {"page", "page_end", "section"}
    schemas = spec["components"]["schemas"]
    for name in ("Hit", "Chunk"):
        assert citation <= set(schemas[name]["required"]), name
        assert citation <= set(schemas[name]["properties"]), name
        for page in ("page", "page_end"):
            assert schemas[name]["properties"][page]["type"] == ["integer", "null"], name
    grammar = (ROOT / "searchapi" / "internal" / "search" / "filter.go").read_text()
    fields = re.search(r"filterFields = \[\]string\{(.*?)\}", grammar)
    assert fields
    assert set(schemas["SearchFilter"]["properties"]) == {"and", "or", "not", "metadata"} | set(
        re.findall(r'"([a-z_]+)"', fields.group(1))
    )
    scope = (ROOT / "searchapi" / "internal" / "search" / "scope.go").read_text()
    max_page = re.search(r"maxPage += ([0-9_]+)", scope)
    assert max_page and schemas["PageNumber"]["maximum"] == int(max_page.group(1).replace("_", ""))


def forwarded_pattern() -> re.Pattern[str]:
    """The ingest routes searchapi's proxy forwards (`forwardedPath`, ingest_proxy.go)."""
    source = (ROOT / "searchapi" / "internal" / "server" / "ingest_proxy.go").read_text()
    match = re.search(r"forwardedPath = regexp\.MustCompile\(`([^`]+)`\)", source)
    assert match
    return re.compile(match.group(1))


def renamed(node: Any, names: set[str]) -> Any:
    """An ingest spec node as searchapi's copy has it: its schemas `X` named `IngestX`."""
    if isinstance(node, dict):
        return {key: renamed(value, names) for key, value in node.items()}
    if isinstance(node, list):
        return [renamed(item, names) for item in node]
    if isinstance(node, str) and node.startswith("#/components/schemas/"):
        name = node.removeprefix("#/components/schemas/")
        return f"#/components/schemas/Ingest{name}" if name in names else node
    return node


def copied_schemas(spec: dict[str, Any]) -> set[str]:
    """The ingest schemas searchapi's spec copies (as `Ingest<name>`)."""
    return {
        name.removeprefix("Ingest")
        for name in spec["components"]["schemas"]
        if name.startswith("Ingest")
    }


def test_the_ingest_schemas_searchapi_copies_are_ingests(
    spec: dict[str, Any], ingest_spec: dict[str, Any]
) -> None:
    names = copied_schemas(spec)
    assert {"DocumentRecord", "DocumentPage", "Files", "DeadLetter", "Replay"} <= names
    for name in names:
        copy = spec["components"]["schemas"][f"Ingest{name}"]
        assert copy == renamed(ingest_spec["components"]["schemas"][name], names), name
    for shared in ("Tenant", "DocumentId"):
        ours, theirs = (s["components"]["schemas"][shared] for s in (spec, ingest_spec))
        assert ours["pattern"] == theirs["pattern"], shared


def codes(spec: dict[str, Any], response: dict[str, Any]) -> set[str]:
    """The error codes of an error response's examples."""
    media = resolve(spec, response)["content"]["application/json"]
    examples = [media["example"]] if "example" in media else []
    examples += [resolve(spec, e)["value"] for e in media.get("examples", {}).values()]
    return {example["error"]["code"] for example in examples}


def json_schema(spec: dict[str, Any], response: dict[str, Any]) -> Any:
    """The schema of a response's JSON body."""
    return resolve(spec, response)["content"]["application/json"]["schema"]


def parameters(spec: dict[str, Any], path: str, method: str) -> dict[tuple[str, str], Any]:
    """An operation's parameters (its path's too): (name, in) → (schema, required)."""
    item = spec["paths"][path]
    found = [
        resolve(spec, p) for p in item.get("parameters", []) + item[method].get("parameters", [])
    ]
    return {(p["name"], p["in"]): (p["schema"], p.get("required", False)) for p in found}


def test_the_forwarded_routes_are_ingests_plus_the_proxys_errors(
    spec: dict[str, Any], ingest_spec: dict[str, Any]
) -> None:
    """`/v1/ingest/<route>` is ingest's `<route>` for every route the proxy forwards: the same
    methods, parameters, bodies and answers; the error answers are ingest's (but 405, which any
    route may answer) plus the proxy's own."""
    pattern, names = forwarded_pattern(), copied_schemas(spec)
    forwarded = {
        path for path in ingest_spec["paths"] if pattern.fullmatch(path.replace("{id}", "x"))
    }
    assert forwarded == {"/documents", "/documents/{id}", "/dead-letters", "/dead-letters/replay"}
    assert {p for p in spec["paths"] if p.startswith(INGEST_PREFIX + "/")} == {
        INGEST_PREFIX + path for path in forwarded
    }
    for path in forwarded:
        theirs, ours = ingest_spec["paths"][path], spec["paths"][INGEST_PREFIX + path]
        assert set(ours) & METHODS == set(theirs) & METHODS, path
        for method in set(theirs) & METHODS:
            where = f"{method.upper()} {INGEST_PREFIX}{path}"
            assert parameters(spec, INGEST_PREFIX + path, method) == renamed(
                parameters(ingest_spec, path, method), names
            ), where
            mine, its = ours[method], theirs[method]
            if "requestBody" in its:
                body = resolve(ingest_spec, its["requestBody"])["content"]
                assert {k: v["schema"] for k, v in mine["requestBody"]["content"].items()} == {
                    k: renamed(v["schema"], names) for k, v in body.items()
                }, where
            for status, response in its["responses"].items():
                if str(status)[0] == "2":
                    their_schema = json_schema(ingest_spec, response)
                    our_schema = json_schema(spec, mine["responses"][status])
                    assert our_schema == renamed(their_schema, names), (where, status)
            errors = {str(s) for s in its["responses"] if str(s)[0] in "45"} - {"405"}
            added = {"401", "502", "504"} | ({"413"} if "requestBody" in its else set())
            assert {str(s) for s in mine["responses"] if str(s)[0] in "45"} == errors | added, where
            for status in errors | added:
                ours_codes = codes(spec, mine["responses"][status])
                its_codes = (
                    codes(ingest_spec, its["responses"][status]) if status in errors else set()
                )
                assert its_codes <= ours_codes, (where, status)
                added_codes = PROXY_ERROR_CODES.get(status, set())
                assert ours_codes - its_codes <= added_codes, (where, status)


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
            statuses = set(map(str, operation["responses"]))
            assert {"401", "500", "503"} <= statuses, (method, path)
            # 403 is for naming another tenant than the key's: where a request can name one.
            names_a_tenant = "requestBody" in operation or ("tenant", "query") in parameters(
                spec, path, method
            )
            assert ("403" in statuses) == names_a_tenant, (method, path)
        else:
            assert operation["security"] == [], (method, path)


def test_search_parameters_and_body_state_the_limits(spec: dict[str, Any]) -> None:
    get = spec["paths"]["/v1/search"]["get"]
    params = {p["name"]: p for p in (resolve(spec, p) for p in get["parameters"])}
    assert set(params) == {"q", "k", "mode", "offset", "tenant", "group_by", "min_score", "filter"}
    assert params["group_by"]["schema"]["enum"] == ["document"]
    assert "filter.<key>.<op>" in get["description"]
    assert params["filter"]["schema"]["maxLength"] == 4096  # search.MaxFilterParamChars
    assert params["q"]["required"] is True
    assert (params["q"]["schema"]["minLength"], params["q"]["schema"]["maxLength"]) == (1, 2000)
    k = params["k"]["schema"]
    assert (k["type"], k["default"], k["minimum"], k["maximum"]) == ("integer", 10, 1, 100)
    offset = params["offset"]["schema"]
    assert (offset["default"], offset["minimum"], offset["maximum"]) == (0, 0, 1000)
    # An empty `mode` is the default's (searchGet passes it on, search defaults it).
    assert params["mode"]["schema"]["anyOf"][1] == {"type": "string", "enum": [""]}
    mode = resolve(spec, params["mode"]["schema"]["anyOf"][0])
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
        "group_by",
        "fusion",
    }
    assert body["properties"]["filter"]["anyOf"][1] == {"type": "null"}  # null: no filter
    search_filter = resolve(spec, body["properties"]["filter"]["anyOf"][0])
    # any other key is a metadata key (shorthand), with a condition
    assert search_filter["additionalProperties"] == {
        "$ref": "#/components/schemas/MetadataCondition"
    }
    assert set(search_filter["properties"]) == {
        "and", "or", "not", "metadata", "document_id", "page", "section", "updated_at",
    }  # fmt: skip
    assert "^[A-Za-z_][A-Za-z0-9_]{0,63}$" in search_filter["description"]
    operators = resolve(spec, spec["components"]["schemas"]["Operators"])
    assert set(operators["properties"]) == {
        "eq", "ne", "in", "nin", "gt", "gte", "lt", "lte", "exists",
    }  # fmt: skip
    fusion = resolve(spec, spec["components"]["schemas"]["Fusion"])
    assert set(fusion["properties"]) == {"method", "k", "weights"}
    assert fusion["properties"]["method"]["enum"] == ["rrf", "score"]


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
    """(where, schema, example) for every example of a request or response body but text
    (JSON, CloudEvents, forms)."""
    bodies: list[tuple[str, dict[str, Any]]] = []
    for path, method, operation in operations(spec):
        if "requestBody" in operation:
            bodies.append((f"{method.upper()} {path} body", operation["requestBody"]))
        for status, response in operation["responses"].items():
            bodies.append((f"{method.upper()} {path} {status}", response))
    for where, body in bodies:
        for media_type, media in resolve(spec, body).get("content", {}).items():
            if media_type.startswith("text/"):
                continue
            if "example" in media:
                yield f"{where} {media_type}", media["schema"], media["example"]
            for name, example in media.get("examples", {}).items():
                value = resolve(spec, example)["value"]
                yield f"{where} {media_type} ({name})", media["schema"], value


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


MODELS_SPEC_PATH = ROOT / "docs" / "api" / "models.openapi.yaml"


def test_the_models_admin_api_spec_is_valid_and_states_exactly_its_routes() -> None:
    models_spec = load(MODELS_SPEC_PATH)
    validate(models_spec, cls=OpenAPIV31SpecValidator)
    source = (ROOT / "functions" / "models" / "sluice_models" / "api.py").read_text()
    served: dict[str, set[str]] = {}
    for rule, methods in re.findall(r'Route\(\s*"([^"]*)", \(([^)]*)\)', source):
        served.setdefault(rule, set()).update(m.lower() for m in re.findall(r'"(\w+)"', methods))
    stated = {path: set(item) & METHODS for path, item in models_spec["paths"].items()}
    assert stated == served
    count = 0
    for where, schema, example in media_examples(models_spec):
        root = {**schema, "components": models_spec["components"]}
        errors = list(
            OAS31Validator(root, format_checker=oas31_format_checker).iter_errors(example)
        )
        assert not errors, f"{where}: {errors[0].message}"
        count += 1
    assert count >= 4
