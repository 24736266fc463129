"""Settings: YAML files merged in name order, overridden by SLUICE_* variables, checked at start."""

from __future__ import annotations

import os
from collections.abc import Callable
from pathlib import Path

import pytest

from sluice.errors import ConfigError
from sluice.settings import (
    SECTIONS,
    EmbedConfig,
    IndexConfig,
    IngestConfig,
    ProcessSettings,
    RetrySettings,
    TransformConfig,
    WorkerConfig,
)
from sluice.settings import load_settings as load_process_settings
from sluice.settings.processes import PROCESSES

REPO_CONF = Path(__file__).resolve().parents[2] / "conf"

Write = Callable[[str, str], Path]


class Everything(IngestConfig, IndexConfig, TransformConfig, WorkerConfig):
    """Every section a Python process reads: the loading rules are the same for all."""


def load_settings(**overrides: object) -> Everything:
    return load_process_settings(Everything, **overrides)


@pytest.fixture(autouse=True)
def _clean_environment(monkeypatch: pytest.MonkeyPatch) -> None:
    """No SLUICE_* variable of the surrounding shell may leak into these tests."""
    for name in list(os.environ):
        if name.upper().startswith("SLUICE_") or name == "K_SINK":
            monkeypatch.delenv(name)


@pytest.fixture
def conf(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Path:
    """An empty configuration directory, selected with SLUICE_CONF_DIR."""
    directory = tmp_path / "conf"
    directory.mkdir()
    monkeypatch.setenv("SLUICE_CONF_DIR", str(directory))
    return directory


@pytest.fixture
def write(conf: Path) -> Write:
    """Writes a YAML file into the configuration directory and returns its path."""

    def _write(name: str, text: str) -> Path:
        path = conf / name
        path.write_text(text, encoding="utf-8")
        return path

    return _write


def _error(**overrides: object) -> str:
    with pytest.raises(ConfigError) as info:
        load_settings(**overrides)
    return str(info.value)


SUBSCRIBER_YAML = """\
routing:
  subscribers:
    transform:
      url: http://127.0.0.1:8082/
      queue: sluice-transform
"""


def test_the_shipped_configuration_loads(monkeypatch: pytest.MonkeyPatch):
    monkeypatch.setenv("SLUICE_CONF_DIR", str(REPO_CONF))
    settings = load_settings()
    assert settings.routing.routes
    for route in settings.routing.routes:
        assert route.to in settings.routing.subscribers


def test_an_empty_configuration_directory_gives_the_defaults(conf: Path):
    settings = load_settings()
    assert settings.chunker.size == 1000
    assert settings.redis.url == "redis://127.0.0.1:6379/0"
    assert settings.routing.routes == []


def test_a_yaml_value_is_read(write: Write):
    write("sluice.yaml", "chunker:\n  size: 500\nredis:\n  url: redis://example:6390/2\n")
    settings = load_settings()
    assert settings.chunker.size == 500
    assert settings.chunker.overlap == 150  # what the file does not set keeps its default
    assert settings.redis.url == "redis://example:6390/2"


def test_an_environment_variable_overrides_yaml(write: Write, monkeypatch: pytest.MonkeyPatch):
    write("sluice.yaml", "chunker:\n  size: 500\n  overlap: 20\n")
    monkeypatch.setenv("SLUICE_CHUNKER__SIZE", "321")
    settings = load_settings()
    assert settings.chunker.size == 321
    assert settings.chunker.overlap == 20


def test_an_environment_variable_overrides_inside_a_dict(
    write: Write, monkeypatch: pytest.MonkeyPatch
):
    write("routing.yaml", SUBSCRIBER_YAML)
    monkeypatch.setenv("SLUICE_ROUTING__SUBSCRIBERS__TRANSFORM__URL", "http://transform.svc/")
    transform = load_settings().routing.subscribers["transform"]
    assert transform.url == "http://transform.svc/"
    assert transform.queue == "sluice-transform"  # the rest of the entry still comes from YAML


def test_init_arguments_override_the_environment(write: Write, monkeypatch: pytest.MonkeyPatch):
    write("sluice.yaml", "chunker:\n  size: 500\n")
    monkeypatch.setenv("SLUICE_CHUNKER__SIZE", "321")
    assert load_settings(chunker={"size": 222}).chunker.size == 222


def test_a_wrong_type_in_yaml_names_the_file_and_field(write: Write):
    path = write("sluice.yaml", "chunker:\n  size: lots\n")
    message = _error()
    assert str(path) in message
    assert "chunker.size" in message
    assert "lots" in message


def test_a_value_out_of_range_in_yaml_names_the_file_and_field(write: Write):
    path = write("sluice.yaml", "milvus:\n  num_partitions: 0\n")
    message = _error()
    assert str(path) in message
    assert "milvus.num_partitions" in message


def test_a_wrong_type_from_the_environment_names_the_variable(
    write: Write, monkeypatch: pytest.MonkeyPatch
):
    path = write("sluice.yaml", "chunker:\n  size: 500\n")
    monkeypatch.setenv("SLUICE_CHUNKER__SIZE", "big")
    message = _error()
    assert "SLUICE_CHUNKER__SIZE" in message
    assert "chunker.size" in message
    assert str(path) not in message


@pytest.mark.parametrize(
    ("yaml_text", "named"),
    [
        ("chunker:\n  sise: 500\n", "chunker.sise"),
        ("chunkr:\n  size: 500\n", "chunkr"),
        (
            "routing:\n  subscribers:\n    index: {url: http://x/, queue: q, timeout: 5}\n",
            "routing.subscribers.index.timeout",
        ),
    ],
)
def test_an_unknown_key_in_yaml_fails_naming_it(write: Write, yaml_text: str, named: str):
    path = write("sluice.yaml", yaml_text)
    message = _error()
    assert named in message
    assert str(path) in message


def test_an_unknown_key_from_the_environment_fails_naming_it(
    conf: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SLUICE_CHUNKER__SISE", "500")
    message = _error()
    assert "SLUICE_CHUNKER__SISE" in message
    assert "chunker.sise" in message


def test_an_environment_variable_for_an_unknown_section_fails(
    conf: Path, monkeypatch: pytest.MonkeyPatch
):
    monkeypatch.setenv("SLUICE_CHUNKR__SIZE", "500")
    assert "SLUICE_CHUNKR__SIZE" in _error()


def test_kubernetes_service_links_are_not_taken_for_settings(
    conf: Path, monkeypatch: pytest.MonkeyPatch
):
    # A Service named sluice-exporter makes Kubernetes set these in every pod of its namespace.
    for name, value in {
        "SLUICE_EXPORTER_SERVICE_HOST": "10.0.0.7",
        "SLUICE_EXPORTER_SERVICE_PORT": "9100",
        "SLUICE_EXPORTER_SERVICE_PORT_METRICS": "9100",
        "SLUICE_EXPORTER_PORT": "tcp://10.0.0.7:9100",
        "SLUICE_EXPORTER_PORT_9100_TCP": "tcp://10.0.0.7:9100",
        "SLUICE_EXPORTER_PORT_9100_TCP_ADDR": "10.0.0.7",
    }.items():
        monkeypatch.setenv(name, value)
    load_settings()
    monkeypatch.setenv("SLUICE_REDIS_URL", "redis://typo")  # one underscore: still refused
    assert "SLUICE_REDIS_URL" in _error()


@pytest.mark.parametrize(
    "yaml_text",
    ["chunker:\n  size: [1\n", "chunker: {size: 1\n", "chunker:\n\tsize: 1\n", "a: b: c\n"],
)
def test_invalid_yaml_names_the_file(write: Write, yaml_text: str):
    write("10-good.yaml", "chunker:\n  size: 500\n")
    path = write("20-broken.yaml", yaml_text)
    message = _error()
    assert str(path) in message
    assert "10-good.yaml" not in message


def test_a_yaml_file_that_is_not_a_mapping_names_the_file(write: Write):
    path = write("sluice.yaml", "- chunker\n- redis\n")
    assert str(path) in _error()


def test_files_merge_in_name_order_deeply(write: Write):
    # Written in reverse order: the name, not the creation time, decides.
    write("20-override.yaml", "chunker:\n  overlap: 20\nredis:\n  key_prefix: other\n")
    write(
        "10-base.yaml",
        "chunker:\n  size: 500\n  overlap: 100\nredis:\n  url: redis://base:6379/0\n"
        "  key_prefix: base\n" + SUBSCRIBER_YAML,
    )
    write("30-routing.yaml", "routing:\n  subscribers:\n    transform:\n      timeout_seconds: 5\n")
    settings = load_settings()
    assert settings.chunker.size == 500  # only in the earlier file
    assert settings.chunker.overlap == 20  # the later file wins
    assert settings.redis.url == "redis://base:6379/0"
    assert settings.redis.key_prefix == "other"
    transform = settings.routing.subscribers["transform"]
    assert (transform.url, transform.queue, transform.timeout_seconds) == (
        "http://127.0.0.1:8082/",
        "sluice-transform",
        5,
    )


def test_only_yaml_files_are_read(write: Write):
    write("sluice.yaml", "chunker:\n  size: 500\n")
    write("notes.txt", "chunker: {size: oops}\n")
    write("sluice.yaml.bak", "chunker:\n  size: 900\n")
    assert load_settings().chunker.size == 500


def test_a_bad_value_is_blamed_on_the_file_that_holds_it(write: Write):
    bad = write("10-base.yaml", "chunker:\n  size: lots\n")
    good = write("20-override.yaml", "chunker:\n  overlap: 20\n")
    message = _error()
    assert str(bad) in message
    assert str(good) not in message


def test_a_bad_value_overridden_by_a_later_file_is_harmless(write: Write):
    write("10-base.yaml", "chunker:\n  size: lots\n")
    write("20-override.yaml", "chunker:\n  size: 400\n")
    assert load_settings().chunker.size == 400


def test_a_bad_value_overriding_a_good_one_names_the_later_file(write: Write):
    good = write("10-base.yaml", "chunker:\n  size: 400\n")
    bad = write("20-override.yaml", "chunker:\n  size: lots\n")
    message = _error()
    assert str(bad) in message
    assert str(good) not in message


def test_a_duplicate_route_fails(write: Write):
    route = "    - {event: dev.sluice.document.accepted, to: transform}\n"
    write("routing.yaml", SUBSCRIBER_YAML + "  routes:\n" + route + route)
    assert "routing.routes" in _error()


def test_a_bad_yaml_value_is_not_blamed_on_a_sibling_variable(
    write: Write, monkeypatch: pytest.MonkeyPatch
):
    path = write("sluice.yaml", "auth:\n  api_keys:\n    key2: [1, 2]\n")
    monkeypatch.setenv("SLUICE_AUTH__API_KEYS", '{"key1": "tenant-a"}')
    message = _error()
    assert "auth.api_keys.key2" in message
    assert str(path) in message


def test_an_incomplete_entry_from_the_environment_names_the_variable(
    write: Write, monkeypatch: pytest.MonkeyPatch
):
    path = write("routing.yaml", SUBSCRIBER_YAML)
    monkeypatch.setenv("SLUICE_ROUTING__SUBSCRIBERS__NEW__URL", "http://new/")
    message = _error()
    assert "routing.subscribers.new.queue" in message
    assert "SLUICE_ROUTING__SUBSCRIBERS__NEW" in message
    assert str(path) not in message


@pytest.mark.parametrize(
    ("retry", "intervals"),
    [
        ({"attempts": 1}, []),
        ({}, [0, 1, 2, 4, 8]),  # the first retry is immediate, then exponential backoff
        (
            {"attempts": 8, "backoff_seconds": 1, "max_backoff_seconds": 60},
            [0, 1, 2, 4, 8, 16, 32],
        ),
        ({"attempts": 5, "backoff_seconds": 10, "max_backoff_seconds": 25}, [0, 10, 20, 25]),
        ({"attempts": 4, "backoff_seconds": 0}, [0, 1, 1]),  # never 0 after the first
        ({"attempts": 3, "backoff_seconds": 0.4}, [0, 1]),
        ({"attempts": 4, "backoff_seconds": 1.5}, [0, 2, 3]),
        ({"attempts": 3, "backoff_seconds": 30, "max_backoff_seconds": 5}, [0, 5]),
    ],
)
def test_retry_intervals(retry: dict[str, float], intervals: list[int]):
    assert RetrySettings(**retry).intervals() == intervals  # type: ignore[arg-type]


def test_retry_intervals_from_yaml(write: Write):
    write(
        "routing.yaml",
        SUBSCRIBER_YAML
        + "  routes:\n    - event: dev.sluice.document.accepted\n      to: transform\n"
        "      retry: {attempts: 4, backoff_seconds: 2, max_backoff_seconds: 5}\n",
    )
    (route,) = load_settings().routing.routes
    assert route.retry.intervals() == [0, 2, 4]


def test_every_section_a_process_reads_is_a_known_section():
    read = {name for config in PROCESSES for name in config.model_fields}
    assert read | {"searchapi"} == SECTIONS  # searchapi's is the Go service's alone
    assert "auth" not in TransformConfig.model_fields  # transform never reads the API keys
    assert set(EmbedConfig.model_fields) == {"embedder", "internal", "logging"}  # no Redis


def test_a_process_leaves_the_sections_it_does_not_read_to_others(write: Write):
    write("sluice.yaml", "chunker:\n  size: lots\nauth:\n  api_keys_file: /nowhere\n")
    load_process_settings(IndexConfig)  # index reads neither
    assert "chunker.size" in str(_error_of(TransformConfig))
    assert "api_keys_file" in str(_error_of(IngestConfig))


def test_an_unknown_section_fails_in_every_process(write: Write):
    path = write("sluice.yaml", "chunkr:\n  size: 500\n")
    for config in PROCESSES:
        message = _error_of(config)
        assert "chunkr" in message and str(path) in message


def _error_of(config: type[ProcessSettings]) -> str:
    with pytest.raises(ConfigError) as info:
        load_process_settings(config)
    return str(info.value)
