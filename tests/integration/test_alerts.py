"""The alerts, evaluated by a real Prometheus scraping the running stack.

A `prometheus` server (Debian's package, 2.42: `make observability-tools`) scrapes every metric
endpoint of the stack under the job names of `conf/observability/prometheus/prometheus.yml`
each second and evaluates the chart's rules, `helm/sluice/files/rules/*.yml` (their only
copy). Then the conditions are caused for real: the transform workers stop while documents are
accepted (SluiceNoWorkers), and one accepted document loses its delivery job, so that the
reconciler has to publish it again (SluiceDeliveriesLost); each alert must fire, then resolve
once the stack is healthy again, and every document must end indexed.

The rules are loaded as derived copies written to a temporary folder, because their `for:`
durations (up to 15 minutes) would make this test take that long: in the copies, and nowhere
else, every `for:` is divided by 60 (5m becomes 5s) and Prometheus evaluates every second; the
expressions, labels and annotations are those of the real files, byte for byte (asserted).
SluiceDeliveriesLost counts over a 15-minute window, so it resolves 15 minutes after the last
lost delivery, as documented; to see it resolve within the test, one extra group holds a copy
of that rule with its window, and only its window, shortened to 30 s. The unchanged rule must
fire, and still be firing at the end; the short-window copy must fire and resolve.
"""

from __future__ import annotations

import os
import re
import shutil
import signal
import subprocess
import time
import uuid
from collections.abc import Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest
import yaml
from redis import Redis
from rq import Queue

from dev.stack import ROOT, SCRAPE_CONFIG, Stack, free_port, subscriber_queues
from tests.conftest import wait_for, wait_status

RULES = ROOT / "helm" / "sluice" / "files" / "rules"
FOR_DIVISOR = 60  # 5m -> 5s
LOST_WINDOW, SHORT_WINDOW = "[15m]", "[30s]"
SHORT_GROUP = "sluice-queues-short-window"
DURATION = re.compile(r"(\d+)(ms|s|m|h|d|w|y)")
UNIT_SECONDS = {"ms": 0.001, "s": 1, "m": 60, "h": 3600, "d": 86400, "w": 604800, "y": 31536000}


@pytest.fixture(scope="session")
def prometheus_binary() -> str:
    """The Prometheus server; missing, the test fails in CI and is skipped elsewhere."""
    found = shutil.which("prometheus")
    if found is None:
        message = (
            "the prometheus server is not installed: `make observability-tools` installs it "
            "(Debian's prometheus package, with promtool)"
        )
        if os.environ.get("CI") == "true":
            pytest.fail(message)
        pytest.skip(message)
    return found


def seconds(duration: str) -> float:
    """A Prometheus duration (`1h30m`, `5m`) in seconds."""
    parts = DURATION.findall(duration)
    assert parts and "".join(n + u for n, u in parts) == duration, duration
    return sum(int(n) * UNIT_SECONDS[u] for n, u in parts)


def shortened(duration: str) -> str:
    """A `for:` divided by FOR_DIVISOR, in whole seconds (at least 1)."""
    return f"{max(1, round(seconds(duration) / FOR_DIVISOR))}s"


def derived_rules(folder: Path) -> list[Path]:
    """Copies of the chart's rule files with only `for:` shortened, plus the short-window
    group of SluiceDeliveriesLost; asserts that nothing else differs."""
    folder.mkdir()
    written: list[Path] = []
    lost: dict[str, Any] | None = None
    for path in sorted(RULES.glob("*.yml")):
        real = yaml.safe_load(path.read_text())
        copy = yaml.safe_load(path.read_text())
        for group in copy["groups"]:
            for rule in group["rules"]:
                if "for" in rule:
                    rule["for"] = shortened(rule["for"])
                if rule.get("alert") == "SluiceDeliveriesLost":
                    lost = dict(rule)
        target = folder / path.name
        target.write_text(yaml.safe_dump(copy, sort_keys=False, width=1000))
        _assert_only_for_differs(real, yaml.safe_load(target.read_text()))
        written.append(target)
    assert lost is not None, "no SluiceDeliveriesLost rule in helm/sluice/files/rules"
    assert lost["expr"].count(LOST_WINDOW) == 1, lost["expr"]
    short = {**lost, "expr": lost["expr"].replace(LOST_WINDOW, SHORT_WINDOW)}
    target = folder / "short-window.yml"
    target.write_text(yaml.safe_dump({"groups": [{"name": SHORT_GROUP, "rules": [short]}]}))
    written.append(target)
    return written


def _assert_only_for_differs(real: dict[str, Any], copy: dict[str, Any]) -> None:
    assert [g["name"] for g in copy["groups"]] == [g["name"] for g in real["groups"]]
    for real_group, group in zip(real["groups"], copy["groups"], strict=True):
        assert {k: v for k, v in group.items() if k != "rules"} == {
            k: v for k, v in real_group.items() if k != "rules"
        }
        for real_rule, rule in zip(real_group["rules"], group["rules"], strict=True):
            assert rule["expr"] == real_rule["expr"]  # byte for byte
            assert {k: v for k, v in rule.items() if k != "for"} == {
                k: v for k, v in real_rule.items() if k != "for"
            }
            assert ("for" in rule) == ("for" in real_rule)


@dataclass
class Prometheus:
    """A running Prometheus server: its HTTP API."""

    url: str

    def get(self, path: str, **params: str) -> Any:
        response = httpx.get(self.url + path, params=params, timeout=5)
        response.raise_for_status()
        body = response.json()
        assert body["status"] == "success", body
        return body["data"]

    def alerts(self, group: str, alert: str, **labels: str) -> list[dict[str, Any]]:
        """The active (pending or firing) instances of an alert of a group whose labels
        include `labels`."""
        for found in self.get("/api/v1/rules", type="alert")["groups"]:
            if found["name"] != group:
                continue
            for rule in found["rules"]:
                if rule["name"] == alert:
                    return [a for a in rule["alerts"] if labels.items() <= a["labels"].items()]
        raise AssertionError(f"Prometheus has no alert {alert} in group {group}")

    def state(self, group: str, alert: str, **labels: str) -> str:
        """The state of an alert of a group: firing, pending or inactive."""
        states = {a["state"] for a in self.alerts(group, alert, **labels)}
        return next((s for s in ("firing", "pending") if s in states), "inactive")

    def wait_state(
        self, group: str, alert: str, state: str, timeout: float, **labels: str
    ) -> float:
        """Wait until the alert is in `state`; return the time it took."""
        start = time.monotonic()
        wait_for(
            lambda: self.state(group, alert, **labels) == state,
            timeout,
            f"{alert} ({group}, {labels}) to be {state}",
        )
        return time.monotonic() - start


@pytest.fixture
def prometheus(prometheus_binary: str, stack: Stack, tmp_path: Path) -> Iterator[Prometheus]:
    """A Prometheus server on a free port, scraping the stack every second, with the derived
    rules; stopped (and its data dropped with tmp_path) at the end."""
    real = yaml.safe_load(SCRAPE_CONFIG.read_text())
    config = {
        "global": {**real["global"], "scrape_interval": "1s", "evaluation_interval": "1s"},
        "rule_files": [str(p) for p in derived_rules(tmp_path / "rules")],
        "scrape_configs": stack.scrape_configs(),
    }
    config_file = tmp_path / "prometheus.yml"
    config_file.write_text(yaml.safe_dump(config, sort_keys=False))
    port = free_port()
    log = (tmp_path / "prometheus.log").open("wb")
    process = subprocess.Popen(
        [
            prometheus_binary,
            f"--config.file={config_file}",
            f"--storage.tsdb.path={tmp_path / 'data'}",
            f"--web.listen-address=127.0.0.1:{port}",
            "--log.level=warn",
        ],
        stdout=log,
        stderr=subprocess.STDOUT,
        start_new_session=True,
    )
    server = Prometheus(f"http://127.0.0.1:{port}")
    try:

        def ready() -> bool:
            assert process.poll() is None, (tmp_path / "prometheus.log").read_text()
            try:
                return httpx.get(server.url + "/-/ready", timeout=2).status_code == 200
            except httpx.HTTPError:
                return False

        wait_for(ready, 30, "Prometheus to be ready")
        yield server
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            os.killpg(process.pid, signal.SIGKILL)
            process.wait(timeout=10)
        log.close()


@pytest.fixture
def transform_workers(stack: Stack) -> Iterator[list[str]]:
    """The stack's transform workers; whatever the test did, they run again afterwards."""
    names = [n for n in stack.workers if n.startswith("worker-transform-")]
    yield names
    for name in names:
        if stack.pid(name) is None:
            stack.start(name)
    for name in names:
        stack.wait_ready(name)


def test_no_workers_and_lost_deliveries_fire_and_resolve(
    prometheus_binary: str,  # first: a missing server fails before the stack starts
    stack: Stack,
    prometheus: Prometheus,
    transform_workers: list[str],
    ingest: httpx.Client,
    redis_client: Redis,
    tenant: str,
) -> None:
    queue = subscriber_queues()["transform"]
    reconcile_after = float(stack.env()["SLUICE_WORKER__RECONCILE_AFTER_SECONDS"])
    healthy_targets = len(stack.metrics_urls())

    # Every target scraped and every rule evaluated on them, nothing firing yet.
    seen: list[object] = []

    def scraped() -> bool:
        targets = prometheus.get("/api/v1/targets")["activeTargets"]
        reconciled = prometheus.get(
            "/api/v1/query", query='sluice_reconciled_documents_total{job="sluice-worker"}'
        )
        seen[:] = [[(t["scrapeUrl"], t["health"], t["lastError"]) for t in targets]]
        up = sum(t["health"] == "up" for t in targets)
        return up == healthy_targets and len(reconciled["result"]) == len(stack.workers)

    deadline = time.monotonic() + 30
    while not scraped():
        assert time.monotonic() < deadline, f"Prometheus does not scrape the whole stack: {seen}"
        time.sleep(0.5)
    time.sleep(3)  # a few evaluations on real samples
    assert prometheus.state("sluice-queues", "SluiceNoWorkers") == "inactive"
    assert prometheus.state("sluice-queues", "SluiceDeliveriesLost") == "inactive"
    assert prometheus.state(SHORT_GROUP, "SluiceDeliveriesLost") == "inactive"

    # No transform worker: documents accepted now wait in their queue. Stopped, not killed: a
    # worker killed -9 stays in RQ's registry (and in sluice_workers) until its key expires,
    # worker_ttl + 60 s later (77 s here, measured), which would only delay the alert.
    for name in transform_workers:
        stack.stop(name)
    lost, waiting = f"lost-{uuid.uuid4().hex[:6]}", f"waiting-{uuid.uuid4().hex[:6]}"
    response = ingest.post(
        "/documents", json={"id": lost, "text": "A delivery that is lost.", "tenant": tenant}
    )
    assert response.status_code == 202, response.text
    accepted_lost = time.monotonic()
    # The job carrying `lost` is deleted, as a Redis that lost it would: the document is
    # `accepted`, in the in-flight ledger, and no delivery carries it.
    jobs = Queue(queue, connection=redis_client).jobs
    carrying = [j for j in jobs if any(e["document_id"] == lost for e in j.meta["events"])]
    assert len(carrying) == 1, [j.meta for j in jobs]
    carrying[0].delete()
    response = ingest.post(
        "/documents", json={"id": waiting, "text": "A delivery that waits.", "tenant": tenant}
    )
    assert response.status_code == 202, response.text
    accepted_waiting = time.monotonic()

    prometheus.wait_state("sluice-queues", "SluiceNoWorkers", "firing", 30, queue=queue)
    fired_no_workers = time.monotonic() - accepted_waiting
    assert ingest.get(f"/documents/{lost}", params={"tenant": tenant}).json()["status"] == (
        "accepted"
    )

    # The reconciler (run by the index worker, still alive) publishes `lost` again.
    timeout = reconcile_after + 30
    prometheus.wait_state("sluice-queues", "SluiceDeliveriesLost", "firing", timeout)
    fired_lost = time.monotonic() - accepted_lost
    prometheus.wait_state(SHORT_GROUP, "SluiceDeliveriesLost", "firing", 5)  # its own round
    republished = [
        line
        for name in stack.workers
        for line in stack.log_path(name).read_text(errors="replace").splitlines()
        if "delivery lost: published again" in line and lost in line
    ]
    assert len(republished) == 1, republished
    (firing,) = prometheus.alerts("sluice-queues", "SluiceDeliveriesLost")
    description = firing["annotations"]["description"]
    assert description.startswith("1 document versions had lost their delivery"), description

    # The workers are back: the queue drains, both documents end indexed.
    restarted = time.monotonic()
    for name in transform_workers:
        stack.start(name)
    for name in transform_workers:
        stack.wait_ready(name)
    prometheus.wait_state("sluice-queues", "SluiceNoWorkers", "inactive", 30, queue=queue)
    resolved_no_workers = time.monotonic() - restarted
    for doc_id in (lost, waiting):
        wait_status(ingest, doc_id, tenant, "indexed", timeout=60)
    prometheus.wait_state(SHORT_GROUP, "SluiceDeliveriesLost", "inactive", 90)
    resolved_lost = time.monotonic() - restarted
    # The real rule looks 15 minutes back: it is still firing, as docs/operations.md says.
    assert prometheus.state("sluice-queues", "SluiceDeliveriesLost") == "firing"
    print(
        f"\nSluiceNoWorkers fired {fired_no_workers:.1f} s after a job waited with no worker, "
        f"resolved {resolved_no_workers:.1f} s after the workers were started; "
        f"SluiceDeliveriesLost fired {fired_lost:.1f} s after the lost document was accepted "
        f"(reconcile_after {reconcile_after:.0f} s), its {SHORT_WINDOW} copy resolved "
        f"{resolved_lost:.1f} s after the workers were started"
    )
