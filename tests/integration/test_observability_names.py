"""Every metric the Grafana dashboards and the Prometheus rules use is exported by a running
Sluice process, so that no panel stays empty and no alert waits on a series that never exists.

The names come from tools/observability/promql.py (the same extraction `make
check-observability` uses) reading helm/sluice/files/dashboards/ and helm/sluice/files/rules/;
the exports from GET /metrics of every process of the local stack.
"""

from __future__ import annotations

import httpx
from prometheus_client.parser import text_string_to_metric_families

from dev.stack import Stack
from tests.conftest import wait_status
from tools.observability.promql import referenced_names

# Processes the catalogue expects to scrape; Stack.metrics_urls() names them (substrings, as a
# process name may carry a suffix such as a worker's queue). The embedding endpoint is not
# required: the test stack runs the hashing embedder without it, and it exports nothing the
# other functions do not (the same library's metrics).
EXPECTED_PROCESSES = ("ingest", "transform", "index", "searchapi", "worker", "exporter")
# Sample names a family of each type exposes (prometheus_client strips a counter's `_total`
# from the family name; a labelled metric not yet used exposes only its HELP and TYPE lines).
SUFFIXES = {
    "counter": ("_total", "_created"),
    "histogram": ("_bucket", "_count", "_sum", "_created"),
    "summary": ("_count", "_sum", "_created"),
    "gaugehistogram": ("_bucket", "_gcount", "_gsum"),
}


def exported_names(exposition: str) -> set[str]:
    """Every series name a /metrics page exposes or will expose once its labels are used."""
    names: set[str] = set()
    for family in text_string_to_metric_families(exposition):
        names.add(family.name)
        names.update(family.name + suffix for suffix in SUFFIXES.get(family.type, ()))
        names.update(sample.name for sample in family.samples)
    return names


def test_every_metric_used_by_dashboards_and_rules_is_exported(
    stack: Stack, ingest: httpx.Client, searchapi: httpx.Client, tenant: str
) -> None:
    # One document through the whole pipeline and one search, so that labelled metrics
    # (Milvus writes, freshness, the embedding cache...) have samples.
    document = {
        "id": "observability-1",
        "title": "Sluice gates",
        "text": "A sluice gate controls the flow of water in a channel. " * 20,
        "tenant": tenant,
    }
    assert ingest.post("/documents", json={"documents": [document]}).status_code == 202
    wait_status(ingest, document["id"], tenant, "indexed")
    response = searchapi.post(
        "/v1/search", json={"query": "sluice gate water", "mode": "hybrid", "tenant": tenant}
    )
    assert response.status_code == 200, response.text

    urls = stack.metrics_urls()
    absent = [p for p in EXPECTED_PROCESSES if not any(p in name for name in urls)]
    assert not absent, f"Stack.metrics_urls() has no process for {absent}: {sorted(urls)}"
    exported: set[str] = set()
    for name, url in sorted(urls.items()):
        page = httpx.get(url, timeout=10)
        assert page.status_code == 200, f"{name}: GET {url} answered {page.status_code}"
        exported |= exported_names(page.text)

    referenced = referenced_names()
    assert referenced, "no metric names found in the dashboards and rules"
    missing = {name: places for name, places in referenced.items() if name not in exported}
    assert not missing, "metrics used but exported by no process:\n" + "\n".join(
        f"  {name}  (used by {'; '.join(sorted(places))})"
        for name, places in sorted(missing.items())
    )


def test_exported_names_include_the_series_of_unused_labelled_metrics() -> None:
    exposition = (
        "# HELP sluice_delivery_retries_total Retries.\n"
        "# TYPE sluice_delivery_retries_total counter\n"
        "# HELP sluice_freshness_seconds Freshness.\n"
        "# TYPE sluice_freshness_seconds histogram\n"
        'sluice_freshness_seconds_bucket{le="+Inf"} 1.0\n'
        "sluice_freshness_seconds_count 1.0\n"
        "sluice_freshness_seconds_sum 2.0\n"
        "# TYPE go_goroutines gauge\n"
        "go_goroutines 7\n"
    )
    names = exported_names(exposition)
    assert {
        "sluice_delivery_retries_total",
        "sluice_freshness_seconds_bucket",
        "go_goroutines",
    } <= names
    assert "sluice_freshness_seconds_created" in names
    assert "sluice_delivery_retries_bucket" not in names
