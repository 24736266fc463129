"""compose_policy catches each broken promise of compose.yaml."""

from __future__ import annotations

import copy
from pathlib import Path
from typing import Any

import pytest

from tools.observability import compose_policy


@pytest.fixture(scope="module")
def project() -> dict[str, Any]:
    return compose_policy.resolved(["compose.yaml"])


def test_repository_compose_holds(project: dict[str, Any]) -> None:
    assert compose_policy.problems(project, base_only=True) == []


@pytest.mark.parametrize(
    ("break_it", "expected"),
    [
        (lambda s: s["redis"].pop("healthcheck"), "redis: no healthcheck"),
        (
            lambda s: s["index"]["depends_on"]["milvus"].update(condition="service_started"),
            "index: depends_on milvus is not condition service_healthy",
        ),
        (
            lambda s: s["grafana"]["ports"][0].update(host_ip="0.0.0.0"),
            "grafana: port 3000 published beyond 127.0.0.1",
        ),
        (
            lambda s: s["redis"].update(ports=[{"host_ip": "127.0.0.1", "target": 6379}]),
            "redis: publishes a port",
        ),
        (lambda s: s["redis"].update(command=["redis-server"]), "redis: persistence"),
        (lambda s: s["worker"].update(stop_grace_period="30s"), "worker: stop_grace_period"),
        (
            lambda s: s["milvus"]["volumes"].append(
                {"type": "bind", "source": "/tmp/milvus", "target": "/var/lib/milvus"}
            ),
            "milvus: bind mount /tmp/milvus",
        ),
        (lambda s: s.pop("exporter"), "exporter: service missing"),
    ],
)
def test_each_rule_can_fail(project: dict[str, Any], break_it: Any, expected: str) -> None:
    broken = copy.deepcopy(project)
    break_it(broken["services"])
    assert any(p.startswith(expected) for p in compose_policy.problems(broken, base_only=True))


def test_stage_lays_out_prometheus_as_compose_mounts_it(
    project: dict[str, Any], tmp_path: Path
) -> None:
    compose_policy.stage(project, "prometheus", tmp_path)
    etc = tmp_path / "etc" / "prometheus"
    assert (etc / "prometheus.yml").resolve() == (
        compose_policy.ROOT / "conf/observability/prometheus/prometheus.yml"
    )
    # the rules are the Helm chart's, found where prometheus.yml's rule_files look (rules/*.yml)
    assert (etc / "rules").resolve() == compose_policy.ROOT / "helm/sluice/files/rules"
    assert sorted(p.name for p in (etc / "rules").glob("*.yml"))
