"""Issue 11: the running ingest and searchapi keep their OpenAPI contracts
(`docs/api/ingest.openapi.yaml`, `docs/api/searchapi.openapi.yaml`) under schemathesis.

Each service runs a second time on the test stack (same Redis and Milvus) with an API key (the
keyed searchapi forwarding `/v1/ingest/` to the keyed ingest, without a Prometheus), and
schemathesis (its CLI) sends it the specs' examples, the coverage phase's boundary and invalid
values, and generated cases (derandomized: the same every run), bounded in count and time. Any
server error, response outside its schema, undocumented status or content type, response
header off its spec, request the spec forbids yet answered 2xx, 405 without `Allow`, or route
that ignores the key fails the test.

The key's tenant has documents (indexed, for the search examples) and a dead letter (a
delivery whose claim check is gone: it fails for good at once, so generated replays, which
replay nothing but the tenant's own jobs, only file it again), so that the listings answer
records and entries to check against their schemas.
"""

from __future__ import annotations

import json
import re
import subprocess
import sys
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from dev.stack import BIN, ROOT, Stack, free_port
from sluice.events import DOCUMENT_ACCEPTED, DocumentAccepted, make_event, now_iso
from sluice.rq.publisher import RqPublisher
from sluice.settings import QueuesConfig, load_settings
from tests.conftest import wait_for, wait_status

pytestmark = pytest.mark.stack

SPECS = ROOT / "docs" / "api"
KEY = "contract-test-key"
TENANT = "contract"
AUTH = {"Authorization": f"Bearer {KEY}"}
CHECKS = [
    "not_a_server_error",
    "status_code_conformance",
    "content_type_conformance",
    "response_headers_conformance",
    "response_schema_conformance",
    "negative_data_rejection",
    "unsupported_method",
    "ignored_auth",
]
# Not run: positive_data_acceptance (a schema cannot say "one tenant per batch" or "the key's
# tenant only", so a valid-looking request may rightly get 403 or 422), use_after_free (a
# deleted document keeps its record: GET answers 200 with status `deleted`, as documented),
# ensure_resource_availability (documents are per tenant and asynchronous).
MAX_EXAMPLES = 40  # per operation and phase; fuzzing goes on past them until the time is up
PER_SERVICE_SECONDS = 35  # schemathesis' budget: fuzzing repeats until it is spent
# The one known contract violation, allowed where it happens and nowhere else, and pinned by
# test_ingests_early_refusal_comes_back_through_the_proxy: ingest refuses a replay before
# reading its body (403, 413, 415, 422 `invalid_tenant`) and closes the connection, and
# searchapi's proxy, still sending the body, answers 502 `ingest_unavailable` instead (a
# race: schemathesis' large `job_ids` arrays with another tenant hit it now and then).
# Remove this once that test passes.
SCHEMATHESIS_CONFIG = """
hooks = "{hooks}"

[[operations]]
include-name = "POST /v1/ingest/dead-letters/replay"
checks.not_a_server_error.expected-statuses = ["2xx", "3xx", "4xx", "502"]
"""
# Schemathesis sends a body only in a media type it has a serializer for: the file types it
# knows no serializer of go on the wire as they are, like application/octet-stream, so that
# the raw-file submissions are tested too (text/* goes as text already).
SCHEMATHESIS_HOOKS = """
import schemathesis

schemathesis.serializer.alias(
    [
        "application/pdf",
        "application/vnd.openxmlformats-officedocument.wordprocessingml.document",
    ],
    "application/octet-stream",
)
"""


def _start(
    stack: Stack, name: str, command: list[str], env: dict[str, str]
) -> subprocess.Popen[bytes]:
    with (stack.directory / "logs" / f"{name}.log").open("ab") as log:
        return subprocess.Popen(
            command, cwd=ROOT, env=env, stdout=log, stderr=log, start_new_session=True
        )


def _answers(url: str) -> bool:
    try:
        return httpx.get(url + "/readyz", timeout=2).status_code == 200
    except httpx.HTTPError:
        return False


@pytest.fixture(scope="module")
def keyed(stack: Stack) -> Iterator[dict[str, str]]:
    """Ingest and searchapi of the stack started once more, with one API key for TENANT:
    {service: base URL}."""
    ports = {"ingest": free_port(), "searchapi": free_port()}
    ingest_url = f"http://127.0.0.1:{ports['ingest']}"
    env = {
        **stack.env(),
        "SLUICE_AUTH__API_KEYS": json.dumps({KEY: TENANT}),
        "SLUICE_SEARCHAPI__PORT": str(ports["searchapi"]),
        "SLUICE_INGEST__PUBLIC_URL": ingest_url,
        # /v1/ingest/ goes to the keyed ingest (the stack's own takes no key); /v1/ops has no
        # Prometheus to read (it answers 200, metrics_available false).
        "SLUICE_SEARCHAPI__INGEST_URL": ingest_url,
        "SLUICE_SEARCHAPI__PROMETHEUS_URL": "",
    }
    ingest = [str(BIN / "sluice"), "serve", "--source", str(ROOT / "functions/ingest/main.py")]
    ingest += ["--target", "ingest", "--host", "127.0.0.1", "--port", str(ports["ingest"])]
    processes = [
        _start(stack, "ingest-contract", ingest, env),
        _start(stack, "searchapi-contract", [str(stack.searchapi_binary())], env),
    ]
    urls = {name: f"http://127.0.0.1:{port}" for name, port in ports.items()}
    try:
        for name, url in urls.items():
            wait_for(lambda url=url: _answers(url), 60, f"the keyed {name} to start")
        yield urls
    finally:
        for process in processes:
            process.terminate()
        for process in processes:
            try:
                process.wait(timeout=15)
            except subprocess.TimeoutExpired:
                process.kill()
                process.wait(timeout=5)


def schemathesis(spec: Path, url: str, workdir: Path, max_examples: int) -> tuple[int, str, float]:
    """Run schemathesis' CLI on a spec against a service; (exit code, output, seconds). It runs
    in `workdir`, where it keeps its cache (never in the repository)."""
    hooks = workdir / "schemathesis_hooks.py"
    hooks.write_text(SCHEMATHESIS_HOOKS)
    config = workdir / "schemathesis.toml"
    config.write_text(SCHEMATHESIS_CONFIG.format(hooks=hooks))
    command = [
        str(Path(sys.executable).with_name("st")),
        "--config-file",
        str(config),
        "run",
        str(spec),
        "--url",
        url,
        "--header",
        f"Authorization: Bearer {KEY}",
        "--checks",
        ",".join(CHECKS),
        "--phases",
        "examples,coverage,fuzzing",
        "--max-examples",
        str(max_examples),
        "--max-time",
        str(PER_SERVICE_SECONDS),
        # The same cases every run, in the same order (no seed, no example database).
        "--generation-deterministic",
        "--continue-on-failure",
        "--workers",
        "1",
        "--request-timeout",
        "10",
        "--suppress-health-check",
        "all",
        "--no-color",
    ]
    started = time.monotonic()
    result = subprocess.run(
        command,
        cwd=workdir,
        capture_output=True,
        text=True,
        timeout=PER_SERVICE_SECONDS + 60,
        check=False,
    )
    return result.returncode, result.stdout + result.stderr, time.monotonic() - started


@pytest.fixture(scope="module")
def indexed(keyed: dict[str, str]) -> None:
    """Documents of TENANT under the ids the searchapi spec's examples use, indexed, so its
    examples find hits and records."""
    documents = [
        {
            "id": "zipimport",
            "title": "zipimport",
            "text": "zipimport imports Python modules from ZIP archives. How does a sluice "
            "gate work? It controls the flow of water.",
            "metadata": {"lang": "en", "package": "zipimport", "year": 2024, "public": True},
        },
        {
            "id": "importlib.machinery",
            "title": "importlib.machinery",
            "text": "Importers and path hooks; a loader creates the module.",
            "metadata": {"lang": "en", "package": "importlib", "kind": "module"},
        },
        {"id": "doc-1", "text": "A sluice gate controls the flow of water in a channel."},
    ]
    with httpx.Client(base_url=keyed["ingest"], headers=AUTH, timeout=30) as client:
        response = client.post("/documents", json={"documents": documents})
        assert response.status_code == 202, response.text
        for document in documents:
            wait_status(client, str(document["id"]), TENANT, "indexed")


DEAD_DOCUMENT = "dead-letter-contract"


@pytest.fixture(scope="module")
def dead_letter(keyed: dict[str, str], redis_client: Redis) -> str:
    """A dead letter of TENANT: a delivery to transform whose claim check is gone (a permanent
    failure, dead-lettered at once, again on every replay); its job id."""
    routing = load_settings(QueuesConfig).routing
    document = DocumentAccepted(
        id=DEAD_DOCUMENT,
        tenant=TENANT,
        version="v1",
        title="",
        text="never delivered",
        metadata={},
        accepted_at=now_iso(),
    )
    event = make_event(
        DOCUMENT_ACCEPTED, "/tests", document, subject=DEAD_DOCUMENT, tenant=TENANT, version="v1"
    )
    event.data = {"claim_check": f"sluice:blob:missing-{TENANT}"}
    RqPublisher(routing, redis_client).publish(routing.routes_for(DOCUMENT_ACCEPTED), [event])

    def listed() -> str | None:
        response = httpx.get(keyed["ingest"] + "/dead-letters", headers=AUTH, timeout=10)
        entries = response.json()["dead_letters"]
        return next((e["job_id"] for e in entries if e["document_id"] == DEAD_DOCUMENT), None)

    return str(wait_for(listed, 30, "the poison delivery to be dead-lettered"))


def test_the_keyed_searchapi_forwards_to_the_keyed_ingest(
    keyed: dict[str, str], dead_letter: str
) -> None:
    """What the contract run relies on: `/v1/ingest/` reaches the keyed ingest (which scopes
    the dead letters to the key's tenant; the stack's own ingest, without keys, would list
    every tenant's), and `/v1/ops` answers without a Prometheus."""
    with httpx.Client(base_url=keyed["searchapi"], timeout=10) as client:
        assert client.get("/v1/ingest/dead-letters").status_code == 401
        entries = client.get("/v1/ingest/dead-letters", headers=AUTH).json()["dead_letters"]
        assert dead_letter in {e["job_id"] for e in entries}
        assert {e["tenant"] for e in entries} == {TENANT}
        replay = client.post(
            "/v1/ingest/dead-letters/replay", json={"job_ids": ["x"]}, headers=AUTH
        )
        assert (replay.status_code, replay.json()) == (200, {"replayed": 0})
        ops = client.get("/v1/ops", headers=AUTH)
        assert ops.status_code == 200
        assert (ops.json()["metrics_available"], ops.json()["queues"]) == (False, [])


@pytest.mark.xfail(
    strict=True,
    reason="searchapi's ingest proxy answers 502 when ingest refuses a body it has not read "
    "(searchapi/internal/server/ingest_proxy.go, ErrorHandler)",
)
def test_ingests_early_refusal_comes_back_through_the_proxy(keyed: dict[str, str]) -> None:
    """A replay over ingest's 1 MiB limit (within the proxy's 16 MiB) is refused by ingest from
    its headers, 413 `body_too_large`, without reading the body; the client must get that
    answer through `/v1/ingest/` as it gets it from ingest directly."""
    body = json.dumps({"job_ids": ["0f3a6c1e-5b2d-4e8f-9a7c-1d2e3f4a5b6c"] * 200_000}).encode()
    headers = {**AUTH, "Content-Type": "application/json"}
    answers: list[object] = []
    with httpx.Client(timeout=30) as client:
        direct = client.post(
            keyed["ingest"] + "/dead-letters/replay", content=body, headers=headers
        )
        assert direct.status_code == 413, direct.text  # ingest itself answers it
        for _ in range(30):
            try:
                response = client.post(
                    keyed["searchapi"] + "/v1/ingest/dead-letters/replay",
                    content=body,
                    headers=headers,
                )
                answers.append((response.status_code, response.json()["error"]["code"]))
            except httpx.TransportError as exc:  # the connection closed before an answer
                answers.append(type(exc).__name__)
    assert set(answers) == {(413, "body_too_large")}, answers


@pytest.mark.parametrize("service", ["ingest", "searchapi"])
def test_the_service_keeps_its_openapi_contract(
    keyed: dict[str, str], indexed: None, dead_letter: str, service: str, tmp_path: Path
) -> None:
    spec = SPECS / f"{service}.openapi.yaml"
    code, output, seconds = schemathesis(spec, keyed[service], tmp_path, MAX_EXAMPLES)
    generated = re.search(r"(\d+) generated", output)
    print(f"schemathesis on {service}: exit {code} in {seconds:.1f} s, {output[-300:]}")
    (tmp_path / "schemathesis.txt").write_text(output)  # whole, for a failure's bodies
    # Each line shortened: a generated form's body is one line of many kilobytes.
    report = "\n".join(line[:400] for line in output.splitlines())
    assert code == 0, f"schemathesis found contract violations in {service}:\n{report[-20000:]}"
    assert generated and int(generated.group(1)) >= 200, output[-2000:]  # it did test
