"""Issue 11: the running ingest and searchapi keep their OpenAPI contracts
(`docs/api/ingest.openapi.yaml`, `docs/api/searchapi.openapi.yaml`) under schemathesis.

Each service runs a second time on the test stack (same Redis and Milvus) with an API key, and
schemathesis (its CLI) sends it the specs' examples, the coverage phase's boundary and invalid
values, and generated cases (derandomized: the same every run), bounded in count and time. Any
server error, response outside its schema, undocumented status or content type, response
header off its spec, request the spec forbids yet answered 2xx, 405 without `Allow`, or route
that ignores the key fails the test.
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

from dev.stack import BIN, ROOT, Stack, free_port
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
    env = {
        **stack.env(),
        "SLUICE_AUTH__API_KEYS": json.dumps({KEY: TENANT}),
        "SLUICE_SEARCHAPI__PORT": str(ports["searchapi"]),
        "SLUICE_INGEST__PUBLIC_URL": f"http://127.0.0.1:{ports['ingest']}",
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
    command = [
        str(Path(sys.executable).with_name("st")),
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


@pytest.mark.parametrize("service", ["ingest", "searchapi"])
def test_the_service_keeps_its_openapi_contract(
    keyed: dict[str, str], indexed: None, service: str, tmp_path: Path
) -> None:
    spec = SPECS / f"{service}.openapi.yaml"
    code, output, seconds = schemathesis(spec, keyed[service], tmp_path, MAX_EXAMPLES)
    generated = re.search(r"(\d+) generated", output)
    print(f"schemathesis on {service}: exit {code} in {seconds:.1f} s, {output[-300:]}")
    assert code == 0, f"schemathesis found contract violations in {service}:\n{output[-20000:]}"
    assert generated and int(generated.group(1)) >= 200, output[-2000:]  # it did test
