"""Metrics of the running stack, scraped before and after: freshness, queue depth, search."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest
from prometheus_client.parser import text_string_to_metric_families

from dev.stack import Stack, worker_names
from tests.conftest import TRANSFORM_WORKERS, wait_for, wait_status

Samples = dict[tuple[str, frozenset[tuple[str, str]]], float]


def scrape(url: str) -> Samples:
    """Every sample a /metrics endpoint serves, by name and labels."""
    response = httpx.get(url, timeout=10)
    assert response.status_code == 200, url
    return {
        (sample.name, frozenset(sample.labels.items())): sample.value
        for family in text_string_to_metric_families(response.text)
        for sample in family.samples
    }


def value(samples: Samples, name: str, **labels: str) -> float:
    """The sum of the samples named `name` whose labels include `labels` (0 if none)."""
    wanted = set(labels.items())
    return sum(v for (n, got), v in samples.items() if n == name and wanted <= got)


@pytest.fixture
def metrics(stack: Stack) -> dict[str, str]:
    return stack.metrics_urls()


def test_every_process_serves_metrics(stack: Stack, metrics: dict[str, str]) -> None:
    expected = {"ingest", "transform", "index", "embed", "models", "searchapi", "exporter"}
    assert expected | set(worker_names(TRANSFORM_WORKERS)) == set(metrics)
    for name, url in metrics.items():
        assert scrape(url), name
    # Each function observed its cold start once, when it first answered /readyz.
    for function in ("ingest", "transform", "index"):
        samples = scrape(metrics[function])
        assert value(samples, "sluice_cold_start_seconds_count", function=function) == 1


@pytest.fixture
def index_worker_stopped(stack: Stack) -> Iterator[None]:
    """No worker serves the index queue inside the block; it is back afterwards."""
    stack.stop("worker-index-1")
    try:
        yield
    finally:
        if stack.pid("worker-index-1") is None:
            stack.start("worker-index-1")


def test_queue_depth_and_freshness_follow_the_documents(
    stack: Stack,
    ingest: httpx.Client,
    tenant: str,
    metrics: dict[str, str],
    index_worker_stopped: None,
) -> None:
    documents = 3
    before = scrape(metrics["index"])
    queue = {"queue": "sluice-index"}
    assert value(scrape(metrics["exporter"]), "sluice_workers", **queue) == 0
    for n in range(documents):
        response = ingest.post(
            "/documents", json={"id": f"fresh-{n}", "text": f"Fresh text {n}.", "tenant": tenant}
        )
        assert response.status_code == 202
    # Transform answers each delivery with its reply, which waits for the stopped index worker.
    wait_for(
        lambda: value(scrape(metrics["exporter"]), "sluice_queue_depth", **queue) == documents,
        30,
        f"{documents} jobs waiting on sluice-index",
    )
    exported = scrape(metrics["exporter"])
    assert value(exported, "sluice_exporter_redis_up") == 1
    assert value(exported, "sluice_queue_oldest_job_age_seconds", **queue) > 0
    assert value(exported, "sluice_workers", queue="sluice-transform", state="idle") >= 1

    stack.start("worker-index-1")
    for n in range(documents):
        wait_status(ingest, f"fresh-{n}", tenant, "indexed")
    wait_for(
        lambda: value(scrape(metrics["exporter"]), "sluice_queue_depth", **queue) == 0,
        30,
        "the index queue to drain",
    )
    after = scrape(metrics["index"])
    for name, labels in (
        ("sluice_document_freshness_seconds_count", {}),
        ("sluice_documents_total", {"status": "indexed"}),
    ):
        assert value(after, name, **labels) - value(before, name, **labels) == documents, name
    # Each waited at least as long as the index worker was away: not in the first bucket.
    fast = "sluice_document_freshness_seconds_bucket"
    assert value(after, fast, le="0.1") == value(before, fast, le="0.1")


def test_searches_are_counted_by_searchapis_latency_histogram(
    searchapi: httpx.Client, metrics: dict[str, str]
) -> None:
    name = "sluice_searchapi_request_duration_seconds_count"
    before = scrape(metrics["searchapi"])
    modes = {"hybrid": 2, "text": 3}
    for mode, count in modes.items():
        for _ in range(count):
            response = searchapi.get("/v1/search", params={"q": "water", "mode": mode})
            assert response.status_code == 200, response.text
    after = scrape(metrics["searchapi"])
    for mode, count in modes.items():
        labels = {"route": "/v1/search", "mode": mode}
        assert value(after, name, **labels) - value(before, name, **labels) == count, mode
    assert value(after, name, route="/v1/search", mode="dense") == value(
        before, name, route="/v1/search", mode="dense"
    )


def test_a_failed_delivery_is_counted_as_a_retry_and_waits_scheduled(
    stack: Stack, ingest: httpx.Client, tenant: str, metrics: dict[str, str]
) -> None:
    retries = "sluice_delivery_retries_total"
    before = value(scrape(metrics["worker-index-1"]), retries, subscriber="index")
    stack.stop("index")
    try:
        response = ingest.post(
            "/documents", json={"id": "retried", "text": "Again.", "tenant": tenant}
        )
        assert response.status_code == 202
        wait_for(
            lambda: value(scrape(metrics["worker-index-1"]), retries, subscriber="index") > before,
            30,
            "a failed delivery to the stopped index to be retried",
        )
        # RQ holds the job in its scheduled registry until the backoff has passed.
        wait_for(
            lambda: (
                value(
                    scrape(metrics["exporter"]), "sluice_queue_scheduled_jobs", queue="sluice-index"
                )
                >= 1
            ),
            30,
            "the retry to wait in the scheduled registry",
        )
    finally:
        stack.start("index")
        stack.wait_ready("index")
    wait_status(ingest, "retried", tenant, "indexed")
    outcomes = scrape(metrics["worker-index-1"])
    assert (
        value(outcomes, "sluice_deliveries_total", subscriber="index", outcome="unreachable") >= 1
    )
