"""Dashboard conventions Grafana does not enforce: datasources by variable, unique ids."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from tools.observability.promql import DASHBOARDS, ROOT

BOARDS = sorted(DASHBOARDS.glob("*.json"))
DATASOURCE_UIDS = {"prometheus": "${datasource}", "loki": "${loki}"}


def _panels(panels: list[dict[str, Any]]) -> list[dict[str, Any]]:
    return [p for panel in panels for p in (panel, *_panels(panel.get("panels", [])))]


def test_dashboard_uids_are_unique() -> None:
    uids = [json.loads(path.read_text())["uid"] for path in BOARDS]
    assert len(BOARDS) >= 3 and len(set(uids)) == len(uids)


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_panels_use_datasource_variables_and_unique_ids(path: Path) -> None:
    board = json.loads(path.read_text())
    assert board["schemaVersion"] >= 39
    variables = {v["name"] for v in board["templating"]["list"]}
    panels = _panels(board["panels"])
    ids = [p["id"] for p in panels]
    assert len(set(ids)) == len(ids), f"{path.name}: duplicate panel ids"
    for panel in panels:
        for target in panel.get("targets", []):
            datasource = target.get("datasource") or panel.get("datasource")
            kind = datasource["type"]
            assert datasource["uid"] == DATASOURCE_UIDS[kind], f"{panel['title']}: {datasource}"
            assert DATASOURCE_UIDS[kind][2:-1] in variables
        assert panel["type"] == "row" or panel.get("description"), (
            f"{panel['title']}: no description"
        )


@pytest.mark.parametrize("path", BOARDS, ids=lambda p: p.name)
def test_every_panel_is_documented_in_operations_md(path: Path) -> None:
    operations = (ROOT / "docs" / "operations.md").read_text()
    panels = _panels(json.loads(path.read_text())["panels"])
    undocumented = [
        p["title"] for p in panels if p["type"] != "row" and f"| {p['title']} |" not in operations
    ]
    assert not undocumented, f"docs/operations.md has no row for {undocumented}"
