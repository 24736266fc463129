"""The PromQL extraction the dashboard check and the metric-name test rely on."""

from __future__ import annotations

import json
import shutil
from pathlib import Path

import pytest

from tools.observability import promql


@pytest.mark.parametrize(
    ("expr", "names"),
    [
        ("up", {"up"}),
        (
            'sum by (le, mode) (rate(a_bucket{route="/v", mode=~"$mode"}[$__rate_interval]))',
            {"a_bucket"},
        ),
        ("sum(rate(a_total[5m])) by (job) / on (job) group_left (x) b", {"a_total", "b"}),
        ('count by (job) (up{job=~"sluice-.*"} == 1)', {"up"}),
        (
            'histogram_quantile(0.99, sum(rate(h_bucket{le=~"60(\\\\.0)?"}[1h])) by (le))',
            {"h_bucket"},
        ),
        ("x - min_over_time(x[15m]) > 0 unless on (queue) (sum by (queue) (y) > 0)", {"x", "y"}),
        ("level:metric:rate5m offset 5m / 0.01", {"level:metric:rate5m"}),
        ('label_replace(m, "dst", "$1", "src", "(.*)")', {"m"}),
        ("rate(c[5m:1m]) > bool d", {"c", "d"}),
    ],
)
def test_metric_names(expr: str, names: set[str]) -> None:
    assert promql.metric_names(expr) == names


def test_substitute_replaces_grafana_variables() -> None:
    expr = 'rate(a{q=~"$queue", m="${mode}", n="[[old]]"}[$__rate_interval]) + b[$__range]'
    assert promql.substitute(expr) == 'rate(a{q=~".*", m=".*", n=".*"}[5m]) + b[6h]'


def test_family_strips_histogram_suffixes_only() -> None:
    assert promql.family("h_seconds_bucket") == "h_seconds"
    assert promql.family("h_seconds_count") == "h_seconds"
    assert promql.family("c_total") == "c_total"


def _dashboard(tmp_path: Path, expr: str) -> Path:
    board = {
        "templating": {
            "list": [
                {"name": "q", "type": "query", "query": {"query": "label_values(v_metric, q)"}},
                {
                    "name": "l",
                    "type": "query",
                    "datasource": {"type": "loki", "uid": "loki"},
                    "query": "label_values(service)",
                },
            ]
        },
        "panels": [
            {
                "type": "row",
                "title": "r",
                "panels": [
                    {"title": "p", "targets": [{"refId": "A", "expr": expr}]},
                ],
            },
            {
                "title": "logs",
                "datasource": {"type": "loki", "uid": "${loki}"},
                "targets": [{"refId": "A", "expr": '{service="x"} |= "error"'}],
            },
        ],
    }
    path = tmp_path / "board.json"
    path.write_text(json.dumps(board))
    return path


def test_dashboard_queries_cover_variables_and_nested_panels_but_not_loki(tmp_path: Path) -> None:
    queries = promql.dashboard_queries(_dashboard(tmp_path, "rate(x_total[$__rate_interval])"))
    assert [q.expr for q in queries] == ["v_metric", "rate(x_total[$__rate_interval])"]


@pytest.mark.skipif(shutil.which("promtool") is None, reason="promtool not installed")
def test_check_dashboards_fails_on_an_expression_that_does_not_parse(
    tmp_path: Path, capsys: pytest.CaptureFixture[str]
) -> None:
    assert promql.check_dashboards("promtool", [_dashboard(tmp_path, "rate(x_total[5m])")]) == 0
    broken = _dashboard(tmp_path, "sum(rate(x_total[5m])")
    assert promql.check_dashboards("promtool", [broken]) == 1
    assert "panel 'p' query A" in capsys.readouterr().err


def test_repository_dashboards_and_rules_reference_only_catalogue_prefixes() -> None:
    names = promql.referenced_names()
    assert names, "no metric names found in dashboards and rules"
    odd = [n for n in names if not n.startswith(("sluice_", "process_", "go_"))]
    assert not odd, f"names outside the metric catalogue: {odd}"
