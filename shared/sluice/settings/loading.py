"""Loading settings: `conf/*.yaml`, overridden by `SLUICE_…` environment variables (`__` nests).

Sources, highest priority first: explicit init arguments, environment variables, the YAML files
of the configuration directory (`SLUICE_CONF_DIR`, default `./conf`) merged in name order.
An invalid value fails at start-up with a `ConfigError` naming the file (or variable) and field.
"""

from __future__ import annotations

import json
import os
import re
from pathlib import Path
from typing import Any, TypeVar

import yaml
from pydantic import ValidationError
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from sluice.errors import ConfigError

ENV_PREFIX = "SLUICE_"
ENV_DELIMITER = "__"
CONF_DIR_VARIABLE = "SLUICE_CONF_DIR"
# The `sluice` command line's server URL and API key: not settings, but an operator's shell may
# set them next to the services' (searchapi's config has the same list).
CLI_VARIABLES = frozenset({"SLUICE_URL", "SLUICE_API_KEY"})


class ProcessSettings(BaseSettings):
    """Base of a process's settings: its sections, from init arguments, `SLUICE_…` variables
    and the YAML files of the configuration directory (only the sections it declares)."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        case_sensitive=False,
    )

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        return init_settings, env_settings, _OwnSectionsFromYaml(settings_cls)


class _OwnSectionsFromYaml(YamlConfigSettingsSource):
    """The configuration files, merged in name order, as far as they hold the sections of the
    process (the others are other processes' to validate)."""

    def __init__(self, settings_cls: type[BaseSettings]) -> None:
        super().__init__(
            settings_cls, yaml_file=conf_files(), yaml_file_encoding="utf-8", deep_merge=True
        )

    def __call__(self) -> dict[str, Any]:
        fields = self.settings_cls.model_fields
        return {name: value for name, value in super().__call__().items() if name in fields}


def conf_dir() -> Path:
    """The configuration directory: `SLUICE_CONF_DIR`, else `./conf`."""
    return Path(os.environ.get(CONF_DIR_VARIABLE, "conf"))


def conf_files() -> list[Path]:
    """The YAML files that configure Sluice, merged in name order."""
    return sorted(conf_dir().glob("*.yaml"))


S = TypeVar("S", bound=ProcessSettings)


def load_settings(config: type[S], **overrides: Any) -> S:
    """Load and validate a process's settings, or raise `ConfigError` naming the bad source
    and field. `overrides` (section: values) win over every other source."""
    try:
        _check_files()
        _check_environment()
        return config(**overrides)
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


def _check_files() -> None:
    """Every file is YAML, a mapping of sections Sluice knows."""
    sections = _sections()
    for path in conf_files():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")
        unknown = sorted(str(name) for name in (loaded or {}) if name not in sections)
        if unknown:
            raise ConfigError(
                f"{path}: {', '.join(unknown)}: no such section (sections: "
                f"{', '.join(sorted(sections))})"
            )


def _sections() -> frozenset[str]:
    # Imported here: the processes' settings are built on this module.
    from sluice.settings.processes import SECTIONS

    return SECTIONS


def _describe(exc: ValidationError) -> str:
    lines = ["invalid configuration:"]
    for error in exc.errors():
        loc = [str(part) for part in error["loc"]]
        # A missing field is the fault of whoever defined its parent.
        target = loc[:-1] if error["type"] == "missing" else loc
        lines.append(
            f"  {_origin(target)}: {'.'.join(loc)}: {error['msg']} "
            f"(got {_short(error.get('input'))})"
        )
    return "\n".join(lines)


def _origin(path: list[str]) -> str:
    """The source that set `path`: an environment variable naming it, a part of it, or a
    parent whose JSON value holds it; else the last YAML file that holds it; else defaults."""
    name = ENV_PREFIX + ENV_DELIMITER.join(path).upper()
    for key, value in os.environ.items():
        key = key.upper()
        if key == name or key.startswith(name + ENV_DELIMITER):
            return f"environment variable {key}"
        if name.startswith(key + ENV_DELIMITER) and key.startswith(ENV_PREFIX):
            rest = name[len(key) + len(ENV_DELIMITER) :].lower().split(ENV_DELIMITER.lower())
            if _holds(_json_or_none(value), rest):
                return f"environment variable {key}"
    origin = "defaults"
    for file in conf_files():
        if _holds(yaml.safe_load(file.read_text(encoding="utf-8")), path):
            origin = str(file)
    return origin


def _holds(node: Any, path: list[str]) -> bool:
    for part in path:
        if isinstance(node, dict):
            matches = [k for k in node if str(k).lower() == part.lower()]
            if not matches:
                return False
            node = node[matches[0]]
        elif isinstance(node, list) and part.isdigit() and int(part) < len(node):
            node = node[int(part)]
        else:
            return False
    return True


def _json_or_none(value: str) -> Any:
    try:
        return json.loads(value)
    except ValueError:
        return None


# What Kubernetes injects for a Service named sluice-<x> into every pod of its namespace
# (docker links style): SLUICE_<X>_SERVICE_HOST, SLUICE_<X>_PORT_9100_TCP_ADDR, ...
_SERVICE_LINK = re.compile(
    r"^SLUICE_[A-Z0-9_]+?_(SERVICE_HOST|SERVICE_PORT(_[A-Z0-9_]+)?|PORT(_\d+_(TCP|UDP|SCTP)(_[A-Z]+)?)?)$"
)


def _check_environment() -> None:
    """Fail on `SLUICE_` variables that name no setting (pydantic would ignore them), but for
    the service links Kubernetes injects."""
    sections = _sections()
    for key in os.environ:
        upper = key.upper()
        if (
            not upper.startswith(ENV_PREFIX)
            or upper == CONF_DIR_VARIABLE
            or upper in CLI_VARIABLES
            or (ENV_DELIMITER not in upper and _SERVICE_LINK.match(upper))
        ):
            continue
        section = upper[len(ENV_PREFIX) :].split(ENV_DELIMITER)[0].lower()
        if section not in sections:
            raise ConfigError(
                f"environment variable {key}: no such setting (sections: "
                f"{', '.join(sorted(sections))}; nest with '{ENV_DELIMITER}')"
            )


def _short(value: Any) -> str:
    text = json.dumps(value, default=str) if not isinstance(value, str) else repr(value)
    return text if len(text) <= 80 else text[:77] + "..."
