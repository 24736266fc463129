"""The web console against a real stack of its own, with an API key and Prometheus: searchapi's
console routes (the ingest proxy, the operations overview from Prometheus, the embedding model
included) over HTTP, then the browser tests (`searchapi/web/e2e/`, Playwright driving Debian's
chromium)."""

from __future__ import annotations

import json
import os
import re
import shutil
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from redis import Redis

from dev.stack import ROOT, Stack
from sluice.events import DocumentAccepted, now_iso
from tests.conftest import TEST_ENV, publish_unclaimable, wait_for

pytestmark = pytest.mark.stack

WEB = ROOT / "searchapi" / "web"
KEY, TENANT = "console-e2e-key-0123456789", "console"
OTHER_KEY, OTHER_TENANT = "console-other-key-0123456789", "elsewhere"
CHROMIUM = os.environ.get("CHROMIUM", "/usr/bin/chromium")


def _missing(what: str, how: str) -> None:
    """A prerequisite is missing: the test fails in CI (which installs it), else is skipped."""
    message = f"{what} is missing: {how}"
    if os.environ.get("CI") == "true":
        pytest.fail(message)
    pytest.skip(message)


@pytest.fixture(scope="module")
def console(tmp_path_factory: pytest.TempPathFactory) -> Iterator[Stack]:
    """A stack with two API keys and Prometheus (scraping every 5 s), searchapi serving the
    built console."""
    if not (WEB / "dist" / "app" / "index.html").exists():
        _missing("the built console", "run `make web`")
    if shutil.which("prometheus") is None:
        _missing("the prometheus server", "run `make observability-tools`")
    keys = json.dumps({KEY: TENANT, OTHER_KEY: OTHER_TENANT})
    stack = Stack(
        tmp_path_factory.mktemp("console"),
        embedder="hashing",
        extra_env={**TEST_ENV, "SLUICE_AUTH__API_KEYS": keys},
        prometheus=True,
    ).on_free_ports()
    try:
        stack.up()
        yield stack
    finally:
        stack.down()


@pytest.fixture(scope="module")
def api(console: Stack) -> Iterator[httpx.Client]:
    """searchapi with the console's key: what the page sends."""
    headers = {"Authorization": f"Bearer {KEY}"}
    with httpx.Client(base_url=console.url("searchapi"), headers=headers, timeout=30) as client:
        yield client


def _status(api: httpx.Client, doc_id: str) -> str | None:
    response = api.get(f"/v1/documents/{doc_id}")
    return response.json()["status"] if response.status_code == 200 else None


def test_the_console_is_served_with_its_policy(console: Stack) -> None:
    brotli = httpx.get(console.url("searchapi") + "/", headers={"Accept-Encoding": "br"})
    assert brotli.status_code == 200 and brotli.headers["content-encoding"] == "br"
    index = httpx.get(console.url("searchapi") + "/", headers={"Accept-Encoding": "identity"})
    assert index.status_code == 200 and "content-encoding" not in index.headers
    assert index.headers["content-type"].startswith("text/html")
    assert "script-src 'self'" in index.headers["content-security-policy"]
    assert index.headers["cache-control"] == "no-cache"
    assert "<script>" not in index.text  # no inline script
    asset = re.search(r'src="(/assets/[^"]+\.js)"', index.text)
    assert asset is not None, index.text
    script = httpx.get(console.url("searchapi") + asset[1], headers={"Accept-Encoding": "gzip"})
    assert script.status_code == 200 and script.headers["content-encoding"] == "gzip"
    assert "immutable" in script.headers["cache-control"]
    # A deep link is the page too (the app routes it); an unknown API path stays JSON.
    assert "<div id" in httpx.get(console.url("searchapi") + "/documents/x").text
    unknown = httpx.get(console.url("searchapi") + "/v1/nothing")
    assert unknown.status_code == 404 and unknown.json()["error"]["code"] == "not_found"


def test_the_ingest_routes_go_through_searchapi_with_the_key(
    console: Stack, api: httpx.Client
) -> None:
    base = console.url("searchapi")
    assert httpx.get(base + "/v1/ingest/documents").status_code == 401
    wrong = httpx.get(base + "/v1/ingest/documents", headers={"Authorization": "Bearer nope"})
    assert wrong.status_code == 401 and wrong.json()["error"]["code"] == "unauthorized"

    files = {"file": ("proxy note.md", b"# Proxied\n\nThrough searchapi.", "text/markdown")}
    submitted = api.post("/v1/ingest/documents", files=files)
    assert submitted.status_code == 202, submitted.text
    (result,) = submitted.json()["documents"]
    assert result["id"] == "proxy-note.md"
    wait_for(lambda: _status(api, "proxy-note.md") == "indexed", 60, "the file to be indexed")
    listed = api.get("/v1/ingest/documents", params={"status": "indexed"}).json()
    assert "proxy-note.md" in [d["id"] for d in listed["documents"]]
    chunks = api.get("/v1/documents/proxy-note.md/chunks").json()
    assert chunks["total"] == 1 and "Through searchapi" in chunks["chunks"][0]["text"]

    # The other key's tenant sees none of it, through every route.
    other = {"Authorization": f"Bearer {OTHER_KEY}"}
    theirs = httpx.get(base + "/v1/ingest/documents", headers=other).json()
    assert theirs["documents"] == []
    assert httpx.get(base + "/v1/documents/proxy-note.md", headers=other).status_code == 404
    gone = httpx.delete(base + "/v1/ingest/documents/proxy-note.md", headers=other)
    assert gone.status_code == 404
    # Routes of ingest the console does not use are not forwarded.
    assert api.get("/v1/ingest/healthz").status_code == 404
    assert api.post("/v1/ingest/", json={"text": "x"}).status_code == 404

    assert api.delete("/v1/ingest/documents/proxy-note.md").status_code == 202
    wait_for(lambda: api.get("/v1/documents/proxy-note.md/chunks").json()["total"] == 0, 30)


def test_the_operations_overview_comes_from_prometheus(console: Stack, api: httpx.Client) -> None:
    assert httpx.get(console.url("searchapi") + "/v1/ops").status_code == 401

    def index_scraped() -> bool:
        query = 'sluice_document_freshness_seconds_count{job="sluice-index"}'
        response = httpx.get(console.url("prometheus") + "/api/v1/query", params={"query": query})
        return bool(response.json()["data"]["result"])

    # A counter's first sample is its baseline: index is scraped once before it counts one.
    wait_for(index_scraped, 30, "Prometheus to scrape the index function")
    api.post("/v1/ingest/documents", json={"id": "fresh", "text": "Counted in freshness."})
    wait_for(lambda: _status(api, "fresh") == "indexed", 60, "the document to be indexed")

    def scraped() -> dict[str, object] | None:
        overview = api.get("/v1/ops").json()
        freshness = overview["freshness"]
        fresh = freshness["p50_seconds"] is not None and freshness["indexed"] >= 1
        queues = {q["queue"] for q in overview["queues"]}
        ready = overview["metrics_available"] and fresh and "sluice-transform" in queues
        return overview if ready else None

    overview = wait_for(scraped, 60, "Prometheus to have scraped the queues and a freshness")
    assert isinstance(overview, dict)
    assert overview["prometheus_url"] == console.url("prometheus")
    assert overview["error"] is None
    freshness = overview["freshness"]
    assert freshness["window_seconds"] == 300
    assert 0 < freshness["p50_seconds"] <= freshness["p95_seconds"]
    transform = next(q for q in overview["queues"] if q["queue"] == "sluice-transform")
    assert transform["workers"]["busy"] + transform["workers"]["idle"] >= 1

    # The models function's state (sluice_model_info): the stack's model, no change under way
    # (none is started here: a change would re-embed every document of the stack).
    def model() -> object:
        return api.get("/v1/ops").json()["model"]

    reported = wait_for(model, 30, "Prometheus to have scraped the models function")
    assert reported == {"active": "hashing", "other": None, "phase": None, "progress": None}


def _dead_letter(console: Stack, redis: Redis) -> tuple[str, str, str]:
    """A delivery dead-lettered at once (its claim check is gone, a permanent failure), with
    the payload put back so a replay succeeds: (job id, document id, the claim-check key)."""
    document = DocumentAccepted(
        id="dead-letter-note",
        tenant=TENANT,
        version="v1",
        title="Replayed",
        text="This document came back from the dead letter.",
        metadata={},
        accepted_at=now_iso(),
    )
    key = publish_unclaimable(redis, document)
    headers = {"Authorization": f"Bearer {KEY}"}
    url = console.url("searchapi") + "/v1/ingest/dead-letters"

    def listed() -> str | None:
        entries = httpx.get(url, headers=headers).json()["dead_letters"]
        return next((e["job_id"] for e in entries if e["document_id"] == document.id), None)

    job_id = wait_for(listed, 30, "the poison delivery to be dead-lettered")
    redis.set(key, document.model_dump_json())  # the fix: a replay now succeeds
    return str(job_id), document.id, key


def test_the_console_in_a_real_browser(console: Stack, api: httpx.Client, tmp_path: Path) -> None:
    """The Playwright suite (e2e/console.spec.ts): key, files, live status, search in every
    mode, a document's chunks, delete, a wrong key, a dead letter replayed, axe on every page."""
    if not Path(CHROMIUM).exists():
        _missing("chromium", "run `make chromium` (Debian's chromium package)")
    if not (WEB / "node_modules").exists():
        _missing("the console's node_modules", "run `make web`")
    with Redis.from_url(console.url("redis")) as redis:
        job_id, doc_id, _ = _dead_letter(console, redis)
    screenshots = os.environ.get("CONSOLE_SCREENSHOTS") or str(tmp_path / "screenshots")
    env = {
        **os.environ,
        "SLUICE_CONSOLE_URL": console.url("searchapi"),
        "SLUICE_API_KEY": KEY,
        "SLUICE_DEAD_LETTER_JOB": job_id,
        "SLUICE_SCREENSHOTS": str(Path(screenshots).resolve()),
        "CHROMIUM": CHROMIUM,
    }
    started = time.monotonic()
    result = subprocess.run(
        ["npx", "--no-install", "playwright", "test"],
        cwd=WEB,
        env=env,
        capture_output=True,
        text=True,
        timeout=900,
        check=False,
    )
    seconds = time.monotonic() - started
    print(result.stdout[-6000:], result.stderr[-3000:], f"browser tests: {seconds:.0f} s")
    assert result.returncode == 0, result.stdout[-6000:] + result.stderr[-3000:]
    # The replay from the page delivered the event again: the document is indexed.
    wait_for(lambda: _status(api, doc_id) == "indexed", 60, "the replayed document to be indexed")
