"""Settings: `conf/*.yaml`, overridden by `SLUICE_…` environment variables (`__` nests).

Sources, highest priority first: explicit init arguments, environment variables, the YAML files
of the configuration directory (`SLUICE_CONF_DIR`, default `./conf`) merged in name order.
An invalid value fails at start-up with a `ConfigError` naming the file (or variable) and field.
"""

from __future__ import annotations

import json
import os
import re
from functools import cache
from pathlib import Path
from typing import Any, Literal

import yaml
from pydantic import (
    BaseModel,
    ConfigDict,
    Field,
    ValidationError,
    field_validator,
    model_validator,
)
from pydantic_settings import (
    BaseSettings,
    PydanticBaseSettingsSource,
    SettingsConfigDict,
    YamlConfigSettingsSource,
)

from sluice.embedders.identity import HASHING_VERSION, MODEL_VERSIONS, EmbedderIdentity
from sluice.errors import ConfigError

ENV_PREFIX = "SLUICE_"
ENV_DELIMITER = "__"
CONF_DIR_VARIABLE = "SLUICE_CONF_DIR"


class Section(BaseModel):
    """A nested settings section: unknown keys are errors, so typos fail at start."""

    model_config = ConfigDict(extra="forbid")


class RedisSettings(Section):
    """Where Redis is (queues, document status, claim checks)."""

    url: str = "redis://127.0.0.1:6379/0"
    key_prefix: str = "sluice"


class MilvusSettings(Section):
    """Where Milvus is and how the chunk collection is laid out."""

    uri: str = "http://127.0.0.1:19530"
    token: str = ""
    collection: str = Field("sluice_chunks", pattern=r"^[A-Za-z_][A-Za-z0-9_]{0,200}$")
    num_partitions: int = Field(16, ge=1, le=1024)
    hnsw_m: int = Field(16, ge=2, le=100)
    hnsw_ef_construction: int = Field(200, ge=8, le=2000)
    timeout_seconds: float = Field(30.0, gt=0)


class IngestSettings(Section):
    """Limits and behaviour of the ingest function."""

    public_url: str = "http://127.0.0.1:8081"
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    max_document_bytes: int = Field(1024 * 1024, ge=1)
    max_batch_documents: int = Field(1000, ge=1)
    max_metadata_bytes: int = Field(16 * 1024, ge=2)
    queue_bound: int = Field(1000, ge=1)
    retry_after_seconds: int = Field(5, ge=1)


class AuthSettings(Section):
    """API keys, each mapped to a tenant. Empty: no authentication, tenant from the body."""

    api_keys: dict[str, str] = Field(default_factory=dict)
    api_keys_file: Path | None = None

    def keys(self) -> dict[str, str]:
        """All configured keys: the inline mapping plus the file's (a mounted Secret)."""
        keys = dict(self.api_keys)
        if self.api_keys_file is not None:
            loaded = yaml.safe_load(self.api_keys_file.read_text(encoding="utf-8")) or {}
            if not isinstance(loaded, dict):
                raise ConfigError(f"{self.api_keys_file}: must map API keys to tenants")
            keys.update({str(k): str(v) for k, v in loaded.items()})
        return keys


class ChunkerSettings(Section):
    """How documents are cut into chunks (sizes in characters)."""

    size: int = Field(1000, ge=50, le=15_000)  # a chunk and its title fit Milvus's 64 KiB text
    overlap: int = Field(150, ge=0)


class EmbedderSettings(Section):
    """Which embedder turns chunks into vectors."""

    kind: Literal["hashing", "minilm"] = "hashing"
    dim: int = Field(384, ge=8, le=32_768)
    batch_size: int = Field(32, ge=1, le=4096)
    model: str = "all-MiniLM-L6-v2"
    model_dir: Path = Path(".sluice/models/all-MiniLM-L6-v2")
    threads: int = Field(0, ge=0, le=256)
    url: str = ""

    def identity(self) -> EmbedderIdentity:
        """The identity of the embedder these settings declare, known without loading a model:
        every process (ingest, index, the worker) uses it; transform and embed check that the
        model folder holds exactly this one."""
        if self.kind == "hashing":
            return EmbedderIdentity(name="hashing", dim=self.dim, version=HASHING_VERSION)
        return EmbedderIdentity(name=self.model, dim=self.dim, version=MODEL_VERSIONS[self.kind])


class ClaimCheckSettings(Section):
    """Event payloads larger than the threshold travel by reference through Redis."""

    threshold_bytes: int = Field(256 * 1024, ge=1)
    ttl_seconds: int = Field(24 * 3600, ge=60)


class SubscriberSettings(Section):
    """A function that receives events: its URL and the RQ queue in front of it."""

    url: str
    queue: str
    timeout_seconds: float = Field(60.0, gt=0)


class RetrySettings(Section):
    """Delivery attempts with exponential backoff; what still fails is dead-lettered."""

    attempts: int = Field(6, ge=1, le=100)
    backoff_seconds: float = Field(1.0, ge=0)
    max_backoff_seconds: float = Field(60.0, ge=0)

    def intervals(self) -> list[int]:
        """The waits between attempts, in whole seconds (RQ's scheduler resolution)."""
        return [
            max(1, round(min(self.backoff_seconds * 2**n, self.max_backoff_seconds)))
            for n in range(self.attempts - 1)
        ]


class RouteSettings(Section):
    """One edge of the routing table: an event type, its subscriber and the transport."""

    event: str = Field(pattern=r"^dev\.sluice\.[a-z.]+$")
    to: str
    transport: Literal["rq", "broker"] = "rq"
    retry: RetrySettings = Field(default_factory=RetrySettings)


class RoutingSettings(Section):
    """The routing table: who receives which event, how, and with what retry policy.

    Each route names the transport it takes in a cluster with Knative Eventing. `transport`
    overrides them all where that topology does not fit: `rq` where there is no broker (a
    laptop, docker compose, Kubernetes without Eventing), `broker` for a broker-only cluster.
    """

    transport: Literal["per-route", "rq", "broker"] = "per-route"
    broker_url: str = ""
    max_batch_events: int = Field(64, ge=1, le=1000)
    max_batch_bytes: int = Field(8 * 1024 * 1024, ge=1024)
    max_event_body_bytes: int = Field(32 * 1024 * 1024, ge=1024)
    subscribers: dict[str, SubscriberSettings] = Field(default_factory=dict)
    routes: list[RouteSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _batches_fit_in_a_body(self) -> RoutingSettings:
        if self.max_batch_bytes > self.max_event_body_bytes:
            raise ValueError("max_batch_bytes must not exceed max_event_body_bytes")
        return self

    @model_validator(mode="after")
    def _apply_transport_override(self) -> RoutingSettings:
        if self.transport != "per-route":
            for route in self.routes:
                route.transport = self.transport
        return self

    @field_validator("routes")
    @classmethod
    def _no_duplicate_edges(cls, routes: list[RouteSettings]) -> list[RouteSettings]:
        edges = [(r.event, r.to) for r in routes]
        if len(edges) != len(set(edges)):
            raise ValueError("a route (event, to) appears twice")
        return routes

    def broker_sink(self) -> str:
        """The broker's URL: configured, else Knative's `K_SINK` (set by a SinkBinding)."""
        return self.broker_url or os.environ.get("K_SINK", "")


class WorkerSettings(Section):
    """RQ delivery workers."""

    abandoned_grace_seconds: int = Field(10, ge=1)
    maintenance_interval_seconds: int = Field(30, ge=1)
    failed_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)
    index_lock_timeout_seconds: int = Field(120, ge=1)


class SearchApiSettings(Section):
    """The Go search service (read by searchapi from the same files; listed here so that the
    Python side validates them too)."""

    host: str = "127.0.0.1"
    port: int = Field(8080, ge=1, le=65535)
    default_k: int = Field(10, ge=1)
    max_k: int = Field(100, ge=1, le=1000)
    max_offset: int = Field(1000, ge=0, le=10_000)
    max_query_chars: int = Field(2000, ge=1)
    candidates: int = Field(100, ge=1, le=16_384)
    cache_size: int = Field(4096, ge=0)
    request_timeout_seconds: float = Field(10.0, gt=0)


class LoggingSettings(Section):
    """Log level; logs are always one JSON object per line."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"


class Settings(BaseSettings):
    """All of Sluice's settings. Every service reads the sections it needs."""

    model_config = SettingsConfigDict(
        env_prefix=ENV_PREFIX,
        env_nested_delimiter=ENV_DELIMITER,
        extra="forbid",
        case_sensitive=False,
    )

    redis: RedisSettings = Field(default_factory=RedisSettings)
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
    ingest: IngestSettings = Field(default_factory=IngestSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    chunker: ChunkerSettings = Field(default_factory=ChunkerSettings)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    claim_check: ClaimCheckSettings = Field(default_factory=ClaimCheckSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    searchapi: SearchApiSettings = Field(default_factory=SearchApiSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)

    @classmethod
    def settings_customise_sources(
        cls,
        settings_cls: type[BaseSettings],
        init_settings: PydanticBaseSettingsSource,
        env_settings: PydanticBaseSettingsSource,
        dotenv_settings: PydanticBaseSettingsSource,
        file_secret_settings: PydanticBaseSettingsSource,
    ) -> tuple[PydanticBaseSettingsSource, ...]:
        yaml_source = YamlConfigSettingsSource(
            settings_cls, yaml_file=conf_files(), yaml_file_encoding="utf-8", deep_merge=True
        )
        return init_settings, env_settings, yaml_source


def conf_dir() -> Path:
    """The configuration directory: `SLUICE_CONF_DIR`, else `./conf`."""
    return Path(os.environ.get(CONF_DIR_VARIABLE, "conf"))


def conf_files() -> list[Path]:
    """The YAML files that configure Sluice, merged in name order."""
    return sorted(conf_dir().glob("*.yaml"))


def load_settings(**overrides: Any) -> Settings:
    """Load and validate settings, or raise `ConfigError` naming the bad source and field."""
    try:
        _check_yaml_syntax()
        _check_environment()
        settings = Settings(**overrides)
        settings.auth.keys()
        return settings
    except ValidationError as exc:
        raise ConfigError(_describe(exc)) from None


@cache
def cached_settings() -> Settings:
    """The process's settings, loaded once (functions and workers build everything from them)."""
    return load_settings()


def _check_yaml_syntax() -> None:
    for path in conf_files():
        try:
            loaded = yaml.safe_load(path.read_text(encoding="utf-8"))
        except yaml.YAMLError as exc:
            raise ConfigError(f"{path}: not valid YAML: {exc}") from None
        if loaded is not None and not isinstance(loaded, dict):
            raise ConfigError(f"{path}: the top level must be a mapping of sections")


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
    sections = set(Settings.model_fields)
    for key in os.environ:
        upper = key.upper()
        if (
            not upper.startswith(ENV_PREFIX)
            or upper == CONF_DIR_VARIABLE
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
