"""The configuration edge cases Python and Go must judge alike (tests/shared/testdata/
config_cases.yaml, which searchapi's tests load too): each process reading the case's section
loads it over the repository's conf/ and accepts it, or fails naming the field."""

from __future__ import annotations

import os
import shutil
from pathlib import Path
from typing import Any

import pytest
import yaml

from sluice.errors import ConfigError
from sluice.settings import SECTIONS, load_settings
from sluice.settings.processes import PROCESSES

REPO_CONF = Path(__file__).resolve().parents[2] / "conf"
FIXTURE = yaml.safe_load(
    (Path(__file__).parent / "testdata" / "config_cases.yaml").read_text(encoding="utf-8")
)
PYTHON_CASES = [
    case
    for case in FIXTURE["cases"]
    if case["section"] == "top" or "python" in FIXTURE["sections"][case["section"]]
]


def test_the_sections_are_the_ones_python_knows() -> None:
    assert set(FIXTURE["sections"]) == SECTIONS
    read = {name for config in PROCESSES for name in config.model_fields}
    assert {s for s, readers in FIXTURE["sections"].items() if "python" in readers} == read


@pytest.mark.parametrize("section", sorted(FIXTURE["keys"]))
def test_the_keys_of_a_shared_section_are_the_ones_go_knows(section: str) -> None:
    (model,) = {
        config.model_fields[section].annotation
        for config in PROCESSES
        if section in config.model_fields
    }
    assert sorted(model.model_fields) == FIXTURE["keys"][section]  # type: ignore[union-attr]


@pytest.mark.parametrize("case", PYTHON_CASES, ids=[c["name"] for c in PYTHON_CASES])
def test_a_case(case: dict[str, Any], tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    for name in list(os.environ):
        if name.upper().startswith("SLUICE_"):
            monkeypatch.delenv(name)
    conf = tmp_path / "conf"
    shutil.copytree(REPO_CONF, conf, ignore=shutil.ignore_patterns("observability"))
    if "yaml" in case:
        (conf / "zz-case.yaml").write_text(case["yaml"], encoding="utf-8")
    monkeypatch.setenv("SLUICE_CONF_DIR", str(conf))
    for name, value in case.get("env", {}).items():
        monkeypatch.setenv(name, value)
    readers = [
        c for c in PROCESSES if case["section"] == "top" or case["section"] in c.model_fields
    ]
    assert readers
    for config in readers:
        if "error" not in case:
            load_settings(config)
            continue
        with pytest.raises(ConfigError) as caught:
            load_settings(config)
        assert case["error"] in str(caught.value), config.__name__
