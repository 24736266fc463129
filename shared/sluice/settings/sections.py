"""The sections of Sluice's configuration: one model each, shared by every process that reads it.

`conf/*.yaml` holds them all; each process composes the ones it reads (`sluice.settings.processes`).
"""

from __future__ import annotations

import os
from pathlib import Path
from typing import Literal

import yaml
from pydantic import BaseModel, ConfigDict, Field, field_validator, model_validator

from sluice.embedders.catalogue import HASHING, MODELS, ModelCard, card
from sluice.embedders.identity import EmbedderIdentity
from sluice.extract.result import Limits

Transport = Literal["rq", "broker"]
Language = Literal["english", "none"]  # sluice.analysis.LANGUAGES


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
    # how the collection's text is analysed for full-text search (searchapi analyses queries
    # the same way; the collection records it)
    language: Language = "english"


class IngestSettings(Section):
    """Limits and behaviour of the ingest function."""

    public_url: str = "http://127.0.0.1:8081"
    max_body_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    max_document_bytes: int = Field(1024 * 1024, ge=1)
    max_file_bytes: int = Field(16 * 1024 * 1024, ge=1024)
    max_batch_documents: int = Field(1000, ge=1)
    max_metadata_bytes: int = Field(16 * 1024, ge=2)
    queue_bound: int = Field(1000, ge=1)
    retry_after_seconds: int = Field(5, ge=1)


class AuthSettings(Section):
    """API keys, each mapped to a tenant. Empty: no authentication, tenant from the body."""

    api_keys: dict[str, str] = Field(default_factory=dict)
    api_keys_file: Path | None = None

    @field_validator("api_keys")
    @classmethod
    def _no_empty_keys(cls, keys: dict[str, str]) -> dict[str, str]:
        return _checked_keys(keys)

    @field_validator("api_keys_file")
    @classmethod
    def _readable(cls, path: Path | None) -> Path | None:
        if path is not None:
            _read_keys_file(path)
        return path

    def keys(self) -> dict[str, str]:
        """All configured keys: the inline mapping plus the file's (a mounted Secret)."""
        keys = dict(self.api_keys)
        if self.api_keys_file is not None:
            keys.update(_read_keys_file(self.api_keys_file))
        return keys


def _read_keys_file(path: Path) -> dict[str, str]:
    try:
        loaded = yaml.safe_load(path.read_text(encoding="utf-8")) or {}
    except (OSError, yaml.YAMLError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if not isinstance(loaded, dict):
        raise ValueError(f"{path} must map API keys to tenants")
    return _checked_keys({str(k): str(v) for k, v in loaded.items()})


def _checked_keys(keys: dict[str, str]) -> dict[str, str]:
    if any(not key or not tenant for key, tenant in keys.items()):
        raise ValueError("API keys and their tenants must not be empty")
    return keys


class InternalSettings(Section):
    """The credential of calls between Sluice's own services: the RQ workers present it to
    transform, index and the dead-letter sink, searchapi to embed; those refuse a request
    without it (but /healthz, /readyz, /metrics) once it is set. Empty: no check (a local stack
    always sets one, see dev/stack.py). A secret: set it by variable or a mounted file, never in
    `conf/`."""

    token: str = ""
    token_file: Path | None = None

    @field_validator("token_file")
    @classmethod
    def _readable(cls, path: Path | None) -> Path | None:
        if path is not None:
            _read_token_file(path)
        return path

    def value(self) -> str:
        """The token: the file's (a mounted Secret) if one is named, else `token`."""
        return _read_token_file(self.token_file) if self.token_file is not None else self.token


def _read_token_file(path: Path) -> str:
    try:
        token = path.read_text(encoding="utf-8").strip()
    except OSError as exc:
        raise ValueError(f"cannot read {path}: {exc}") from None
    if not token:
        raise ValueError(f"{path} is empty: it must hold the internal token")
    return token


class ChunkerSettings(Section):
    """How documents are cut into chunks (sizes in characters)."""

    size: int = Field(1000, ge=50, le=15_000)  # a chunk and its title fit Milvus's 64 KiB text
    overlap: int = Field(150, ge=0)


class EmbedderSettings(Section):
    """Which embedder turns chunks into vectors: a card of `sluice.embedders.catalogue`. It is
    the model the first collection is built with; `sluice models migrate` changes it later,
    and from then on the recorded model state decides (docs/models.md)."""

    model: str = HASHING
    dim: int = Field(384, ge=8, le=32_768)  # the hashing embedder's (a model has its own)
    batch_size: int = Field(32, ge=1, le=4096)
    models_dir: Path = Path(".sluice/models")  # <models_dir>/<model>: made by `make model`
    threads: int = Field(0, ge=0, le=256)
    url: str = ""

    @field_validator("model")
    @classmethod
    def _shipped(cls, name: str) -> str:
        if name != HASHING and name not in MODELS:
            raise ValueError(f"{name!r} is not one of {', '.join([HASHING, *MODELS])}")
        return name

    def card(self) -> ModelCard:
        """The card of the model these settings name."""
        return card(self.model, self.dim)

    def identity(self) -> EmbedderIdentity:
        """The identity of the embedder these settings declare, known without loading a model:
        every process (ingest, index, the worker) uses it; transform and embed check that the
        model folder holds exactly this one."""
        return self.card().identity


class ExtractSettings(Section):
    """Bounds on turning one file into text (transform parses each file in a child process)."""

    timeout_seconds: float = Field(30.0, gt=0, le=3600)
    max_memory_bytes: int = Field(1 << 30, ge=128 << 20)  # the child's address space
    max_pages: int = Field(5000, ge=1)  # of a PDF
    max_text_bytes: int = Field(1024 * 1024, ge=1)  # a file's text: ingest.max_document_bytes' twin
    max_unpacked_bytes: int = Field(256 << 20, ge=1 << 20)  # what a DOCX's zip may inflate to

    def limits(self) -> Limits:
        """The bounds as the parsers take them."""
        return Limits(
            timeout_seconds=self.timeout_seconds,
            memory_bytes=self.max_memory_bytes,
            max_pages=self.max_pages,
            max_unpacked_bytes=self.max_unpacked_bytes,
        )


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
        """The waits between attempts, in whole seconds (RQ's scheduler resolution). The first
        retry is immediate: RQ enqueues it directly, so a job recovered from a dead worker does
        not wait until a live worker's scheduler takes over the dead one's lock (up to 61 s);
        the others back off exponentially from `backoff_seconds`."""
        backoff = [
            max(1, round(min(self.backoff_seconds * 2**n, self.max_backoff_seconds)))
            for n in range(self.attempts - 2)
        ]
        return [0, *backoff] if self.attempts > 1 else []


class RouteSettings(Section):
    """One edge of the routing table: an event type, its subscriber and, as the cluster
    topology has it, the transport."""

    event: str = Field(pattern=r"^dev\.sluice\.[a-z.]+$")
    to: str
    transport: Transport = "rq"
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
    failed_ttl_seconds: int = Field(7 * 24 * 3600, ge=60)  # how long dead letters are kept
    subscribers: dict[str, SubscriberSettings] = Field(default_factory=dict)
    routes: list[RouteSettings] = Field(default_factory=list)

    @model_validator(mode="after")
    def _batches_fit_in_a_body(self) -> RoutingSettings:
        if self.max_batch_bytes > self.max_event_body_bytes:
            raise ValueError("max_batch_bytes must not exceed max_event_body_bytes")
        return self

    @model_validator(mode="after")
    def _routes_name_subscribers(self) -> RoutingSettings:
        for route in self.routes:
            if route.to not in self.subscribers:
                raise ValueError(f"route {route.event} goes to unknown subscriber {route.to!r}")
        return self

    @field_validator("routes")
    @classmethod
    def _no_duplicate_edges(cls, routes: list[RouteSettings]) -> list[RouteSettings]:
        edges = [(r.event, r.to) for r in routes]
        if len(edges) != len(set(edges)):
            raise ValueError("a route (event, to) appears twice")
        return routes

    def transport_of(self, route: RouteSettings) -> Transport:
        """The transport a route takes here: `transport` unless per-route, else the route's."""
        return route.transport if self.transport == "per-route" else self.transport

    def routes_for(self, event_type: str) -> list[RouteSettings]:
        """The routes of an event type (none: the event ends here)."""
        return [route for route in self.routes if route.event == event_type]

    def queues(self) -> list[str]:
        """Every subscriber's RQ queue, sorted."""
        return sorted({subscriber.queue for subscriber in self.subscribers.values()})

    def broker_sink(self) -> str:
        """The broker's URL: configured, else Knative's `K_SINK` (set by a SinkBinding)."""
        return self.broker_url or os.environ.get("K_SINK", "")


class WorkerSettings(Section):
    """RQ delivery workers."""

    heartbeat_seconds: float = Field(5.0, gt=0, le=60)  # three missed: the job is abandoned
    maintenance_interval_seconds: int = Field(10, ge=1)  # finds abandoned jobs, among others
    reconcile_interval_seconds: float = Field(30.0, gt=0)  # how often a reconciler pass runs
    # A version in flight that has not moved for this long and that no job carries has lost
    # its delivery and is published again (longer than a delivery's whole retry schedule).
    reconcile_after_seconds: float = Field(600.0, gt=0)


class IndexSettings(Section):
    """The index function."""

    lock_timeout_seconds: int = Field(120, ge=1)  # the longest a write waits for a busy document
    lock_ttl_seconds: float = Field(10.0, gt=0, le=600)  # a dead writer's locks free after this


class ModelsSettings(Section):
    """The models function: model changes (`sluice models`) and its admin API."""

    # the admin API's key (Authorization: Bearer); empty: the admin API refuses every call
    admin_key: str = ""
    admin_key_file: Path | None = None  # a mounted Secret holding the key, replacing admin_key
    batch_documents: int = Field(16, ge=1, le=1000)  # documents copied per step
    threads: int = Field(1, ge=0, le=256)  # onnxruntime threads of the copy's embedder
    nice: int = Field(10, ge=0, le=19)  # the copy runs at this niceness: live work goes first
    poll_seconds: float = Field(1.0, gt=0, le=60)  # how often an idle copier looks for work

    @field_validator("admin_key_file")
    @classmethod
    def _readable(cls, path: Path | None) -> Path | None:
        if path is not None:
            _read_token_file(path)
        return path

    def key(self) -> str:
        """The admin key in force (the file's, when one is set)."""
        return _read_token_file(self.admin_key_file) if self.admin_key_file else self.admin_key


class LoggingSettings(Section):
    """Log level; logs are always one JSON object per line."""

    level: Literal["DEBUG", "INFO", "WARNING", "ERROR"] = "INFO"
