"""PromQL found in the Grafana dashboards and the Prometheus rules, and the metric names it uses.

Importable (tests/integration/test_observability_names.py compares the names with what the
running processes export) and runnable: `python tools/observability/promql.py` writes every
dashboard expression as a recording rule to a temporary file and runs `promtool check rules`
on it, so an expression that does not parse fails the check with its dashboard and panel.
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
import tempfile
from collections.abc import Iterable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import yaml

ROOT = Path(__file__).resolve().parents[2]
# The Helm chart's files are the only copy of the dashboards and rules (compose mounts them).
CHART_FILES = ROOT / "helm" / "sluice" / "files"
DASHBOARDS = CHART_FILES / "dashboards"
RULES = CHART_FILES / "rules"
RULE_TESTS = ROOT / "conf" / "observability" / "prometheus" / "tests"

# Grafana's interval variables become fixed durations: promtool only needs valid syntax.
GRAFANA_INTERVALS = {
    "__rate_interval": "5m",
    "__interval": "1m",
    "__range": "6h",
    "interval": "1m",
    "__range_s": "21600",
    "__interval_ms": "60000",
}
# Anything else that looks like a template variable (`$queue`, `${mode}`, `[[var]]`) sits in a
# label matcher regex in these dashboards; `.*` keeps the regex valid.
VARIABLE = re.compile(r"\$\{(\w+)(?::\w+)?\}|\$(\w+)|\[\[(\w+)\]\]")

# PromQL words that are not metric names: keywords, modifiers, aggregation operators (which
# may be followed by `by (...)` rather than by their parenthesis).
KEYWORDS = frozenset(
    """and or unless by without on ignoring group_left group_right offset bool start end inf nan
    sum min max avg group stddev stdvar count count_values bottomk topk quantile limitk
    limit_ratio""".split()
)
# Clauses followed by a parenthesised list of label names (not metrics).
LABEL_LIST_CLAUSES = frozenset("by without on ignoring group_left group_right".split())
TOKEN = re.compile(
    r"""
    (?P<string>"(?:\\.|[^"\\])*"|'(?:\\.|[^'\\])*'|`[^`]*`)
  | (?P<braces>\{[^{}]*\})              # label matchers: label names and values, never metrics
  | (?P<brackets>\[[^\[\]]*\])          # range and subquery durations
  | (?P<number>0x[0-9a-fA-F]+|\d+(?:\.\d*)?(?:e[+-]?\d+)?(?:[smhdwy]|ms)?)
  | (?P<ident>[a-zA-Z_:][a-zA-Z0-9_:]*)
  | (?P<paren>[()])
  | (?P<other>\S)
    """,
    re.VERBOSE,
)
HISTOGRAM_SUFFIXES = ("_bucket", "_count", "_sum")

# Series that Prometheus makes itself, not the processes: allowed without being exported.
PROMETHEUS_SYNTHETIC = frozenset(
    {"up", "ALERTS", "ALERTS_FOR_STATE", "scrape_duration_seconds", "scrape_samples_scraped"}
)


@dataclass(frozen=True)
class Query:
    """One PromQL expression and where it was found."""

    source: str  # file name
    where: str  # panel title / variable name / rule name
    expr: str


def substitute(expr: str) -> str:
    """Replace Grafana's `$__…` and template variables so that the expression is plain PromQL."""

    def replace(match: re.Match[str]) -> str:
        name = next(group for group in match.groups() if group)
        return GRAFANA_INTERVALS.get(name, ".*")

    return VARIABLE.sub(replace, expr)


def _is_loki(datasource: object) -> bool:
    if isinstance(datasource, dict):
        return datasource.get("type") == "loki" or "loki" in str(datasource.get("uid", ""))
    return "loki" in str(datasource or "").lower()


def _variable_query(variable: dict[str, Any]) -> str | None:
    """The PromQL inside a query variable: `label_values(expr, label)`, `query_result(expr)`."""
    query = variable.get("query")
    if isinstance(query, dict):
        query = query.get("query")
    if not isinstance(query, str) or not query.strip():
        return None
    match = re.fullmatch(r"\s*label_values\((.*),\s*\w+\s*\)\s*", query, re.DOTALL)
    if match:
        return match.group(1)
    if re.fullmatch(r"\s*label_values\(\s*\w+\s*\)\s*", query) or query.strip() in (
        "label_names()",
        "metrics(.*)",
    ):
        return None  # names no metric
    match = re.fullmatch(r"\s*(?:query_result|metrics)\((.*)\)\s*", query, re.DOTALL)
    return match.group(1) if match else query


def _panels(panels: Iterable[dict[str, Any]]) -> Iterator[dict[str, Any]]:
    for panel in panels:
        yield panel
        yield from _panels(panel.get("panels", []))


def dashboard_queries(path: Path) -> list[Query]:
    """Every Prometheus expression of a dashboard: panel targets and query variables."""
    board = json.loads(path.read_text())
    found: list[Query] = []
    for variable in board.get("templating", {}).get("list", []):
        if variable.get("type") != "query" or _is_loki(variable.get("datasource")):
            continue
        expr = _variable_query(variable)
        if expr:
            found.append(Query(path.name, f"variable ${variable['name']}", expr))
    for panel in _panels(board.get("panels", [])):
        for target in panel.get("targets", []):
            datasource = target.get("datasource") or panel.get("datasource")
            if _is_loki(datasource):
                continue  # LogQL, checked by nobody here
            if target.get("expr"):
                where = f"panel {panel.get('title')!r} query {target.get('refId')}"
                found.append(Query(path.name, where, target["expr"]))
    return found


def rule_queries(path: Path) -> list[Query]:
    """Every expression of a Prometheus rules file."""
    document = yaml.safe_load(path.read_text()) or {}
    return [
        Query(path.name, rule.get("alert") or rule.get("record"), rule["expr"])
        for group in document.get("groups", [])
        for rule in group.get("rules", [])
    ]


def recorded_names(paths: Iterable[Path]) -> set[str]:
    """Series that the recording rules create (not exported by any process)."""
    names: set[str] = set()
    for path in paths:
        for group in (yaml.safe_load(path.read_text()) or {}).get("groups", []):
            names.update(rule["record"] for rule in group.get("rules", []) if "record" in rule)
    return names


def metric_names(expr: str) -> set[str]:
    """Metric names an expression selects: identifiers that are not functions, keywords,
    label names (in `{…}` or `by (…)` lists) or durations."""
    tokens = [(m.lastgroup, m.group()) for m in TOKEN.finditer(substitute(expr)) if m.lastgroup]
    names: set[str] = set()
    skip_list = False  # inside `by (...)` and friends
    for index, (kind, text) in enumerate(tokens):
        following = tokens[index + 1] if index + 1 < len(tokens) else (None, "")
        if skip_list:
            if kind == "paren" and text == ")":
                skip_list = False
            continue
        if kind != "ident":
            continue
        if text in LABEL_LIST_CLAUSES and following == ("paren", "("):
            skip_list = True
            continue
        if text.lower() in KEYWORDS or following == ("paren", "("):
            continue  # a keyword or a function call
        names.add(text)
    return names


def family(name: str) -> str:
    """The metric family of a series name: histogram `_bucket/_count/_sum` stripped."""
    for suffix in HISTOGRAM_SUFFIXES:
        if name.endswith(suffix):
            return name[: -len(suffix)]
    return name


def referenced_names() -> dict[str, set[str]]:
    """Series names used by dashboards and rules (recording-rule outputs and Prometheus' own
    series left out), each with the places that use it."""
    rule_files = sorted(RULES.glob("*.yml"))
    recorded = recorded_names(rule_files)
    queries = [q for path in sorted(DASHBOARDS.glob("*.json")) for q in dashboard_queries(path)]
    queries += [q for path in rule_files for q in rule_queries(path)]
    used: dict[str, set[str]] = {}
    for query in queries:
        for name in metric_names(query.expr) - recorded - PROMETHEUS_SYNTHETIC:
            used.setdefault(name, set()).add(f"{query.source}: {query.where}")
    return used


def check_dashboards(promtool: str, dashboards: Iterable[Path]) -> int:
    """Write every dashboard expression as a recording rule and run promtool on the file."""
    queries = [q for path in dashboards for q in dashboard_queries(path)]
    if not queries:
        print("no dashboard queries found", file=sys.stderr)
        return 1
    rules = [
        {"record": f"dashboard:query_{i}", "expr": substitute(q.expr)}
        for i, q in enumerate(queries)
    ]
    with tempfile.NamedTemporaryFile("w", suffix=".yml", prefix="dashboards-") as handle:
        yaml.safe_dump({"groups": [{"name": "dashboards", "rules": rules}]}, handle)
        handle.flush()
        result = subprocess.run(
            [promtool, "check", "rules", handle.name], capture_output=True, text=True, check=False
        )
    if result.returncode == 0:
        print(f"dashboards: {len(queries)} PromQL expressions parse")
        return 0
    # promtool names the failing rules by their record names: map them back to the panels.
    output = result.stdout + result.stderr
    print(output, file=sys.stderr)
    for index in sorted({int(i) for i in re.findall(r"dashboard:query_(\d+)", output)}):
        query = queries[index]
        print(f"  -> {query.source}: {query.where}: {query.expr}", file=sys.stderr)
    return 1


def main() -> int:
    """Check the dashboards' PromQL with promtool; print the metric names they and the rules use."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--promtool", default="promtool")
    parser.add_argument("--dashboards", type=Path, nargs="*", default=None)
    parser.add_argument("--names", action="store_true", help="print the referenced metric names")
    args = parser.parse_args()
    if args.names:
        for name, places in sorted(referenced_names().items()):
            print(f"{name}\t{len(places)} uses")
        return 0
    return check_dashboards(args.promtool, args.dashboards or sorted(DASHBOARDS.glob("*.json")))


if __name__ == "__main__":
    sys.exit(main())
