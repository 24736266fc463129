"""The alert rules' contract: labels, annotations, runbooks that exist, tests on both sides."""

from __future__ import annotations

import re

import pytest
import yaml

from tools.observability.promql import ROOT, RULE_TESTS, RULES

OPERATIONS = ROOT / "docs" / "operations.md"
RUNBOOK = "https://github.com/sluice-dev/sluice/blob/main/docs/operations.md#"


def _alerts() -> list[dict[str, object]]:
    return [
        rule
        for path in sorted(RULES.glob("*.yml"))
        for group in yaml.safe_load(path.read_text())["groups"]
        for rule in group["rules"]
        if "alert" in rule
    ]


def _anchors(markdown: str) -> set[str]:
    """GitHub's heading anchors: lower case, punctuation dropped, spaces to dashes."""
    headings = re.findall(r"^#+\s+(.+?)\s*$", markdown, re.MULTILINE)
    return {re.sub(r"[^\w\- ]", "", h).strip().lower().replace(" ", "-") for h in headings}


ALERTS = _alerts()


def test_there_are_alerts() -> None:
    assert len(ALERTS) >= 8


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: str(a["alert"]))
def test_alert_has_severity_annotations_and_an_existing_runbook(alert: dict[str, object]) -> None:
    labels, annotations = alert.get("labels", {}), alert.get("annotations", {})
    assert isinstance(labels, dict) and labels.get("severity") in ("critical", "warning")
    assert isinstance(annotations, dict)
    assert {"summary", "description", "runbook_url"} <= set(annotations)
    runbook = str(annotations["runbook_url"])
    assert runbook == RUNBOOK + str(alert["alert"]).lower()
    assert runbook.removeprefix(RUNBOOK) in _anchors(OPERATIONS.read_text()), (
        f"docs/operations.md has no heading for {alert['alert']}"
    )


def _evaluations() -> dict[str, tuple[int, int]]:
    """Per alert: how many test evaluations expect it firing, and how many expect silence."""
    counts: dict[str, list[int]] = {}
    for path in RULE_TESTS.glob("*.yml"):
        for test in yaml.safe_load(path.read_text())["tests"]:
            for case in test.get("alert_rule_test", []):
                fired = counts.setdefault(case["alertname"], [0, 0])
                fired[0 if case.get("exp_alerts") else 1] += 1
    return {name: (a, b) for name, (a, b) in counts.items()}


@pytest.mark.parametrize("alert", ALERTS, ids=lambda a: str(a["alert"]))
def test_alert_is_tested_firing_and_silent(alert: dict[str, object]) -> None:
    firing, silent = _evaluations().get(str(alert["alert"]), (0, 0))
    assert firing and silent, f"{alert['alert']}: {firing} firing and {silent} silent test cases"
