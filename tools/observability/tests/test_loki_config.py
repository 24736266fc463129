"""loki_config rejects unknown keys at any depth and the settings this setup depends on."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
import yaml

from tools.observability import loki_config

KEYS = json.loads(loki_config.KEYS.read_text())


def _check(tmp_path: Path, document: dict[str, object]) -> list[str]:
    path = tmp_path / "loki.yaml"
    path.write_text(yaml.safe_dump(document))
    return loki_config.check(path, KEYS)


def test_repository_config_is_valid() -> None:
    assert loki_config.check(loki_config.CONFIG, KEYS) == []


@pytest.mark.parametrize(
    ("edit", "expected"),
    [
        (lambda d: d.update(storage={}), "storage: unknown top-level key"),
        (lambda d: d["server"].update(http_port=1), "server.http_port: unknown key"),
        (
            lambda d: d["schema_config"]["configs"][0]["index"].update(size=1),
            "schema_config.configs[0].index.size: unknown key",
        ),
        (lambda d: d["schema_config"]["configs"][0].update(schema="v12"), "schema v13"),
        (
            lambda d: d["limits_config"].pop("allow_structured_metadata"),
            "allow_structured_metadata",
        ),
        (lambda d: d["compactor"].pop("retention_enabled"), "retention needs"),
        (lambda d: d.update(ruler={}), "ruler: section not in"),
    ],
)
def test_each_rule_can_fail(tmp_path: Path, edit: object, expected: str) -> None:
    document = yaml.safe_load(loki_config.CONFIG.read_text())
    edit(document)  # type: ignore[operator]
    assert any(expected in error for error in _check(tmp_path, document))
