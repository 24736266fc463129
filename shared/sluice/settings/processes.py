"""What each process reads: its settings, composed of the sections it uses.

Every process loads and validates only its own sections (transform never reads the API keys).
The files in `conf/` hold every section; `SECTIONS` names them all, so a typo in a section's name
fails in whichever process reads the files, while a section only another process reads is left
to that process to validate. `searchapi` is read by the Go search service alone.
"""

from __future__ import annotations

from pydantic import Field

from sluice.settings.loading import ProcessSettings
from sluice.settings.sections import (
    AuthSettings,
    ChunkerSettings,
    ClaimCheckSettings,
    EmbedderSettings,
    ExtractSettings,
    IndexSettings,
    IngestSettings,
    InternalSettings,
    LoggingSettings,
    MilvusSettings,
    ModelsSettings,
    RedisSettings,
    RoutingSettings,
    WorkerSettings,
)


class QueuesConfig(ProcessSettings):
    """The RQ queues and the routing table: the exporter, the dead-letter sink, `sluice dlq`."""

    redis: RedisSettings = Field(default_factory=RedisSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    internal: InternalSettings = Field(default_factory=InternalSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)


class WorkerConfig(QueuesConfig):
    """An RQ delivery worker (`sluice worker`), and the reconciler it runs."""

    worker: WorkerSettings = Field(default_factory=WorkerSettings)
    claim_check: ClaimCheckSettings = Field(default_factory=ClaimCheckSettings)


class IngestConfig(QueuesConfig):
    """The ingest function (it knows the embedder only by its identity)."""

    ingest: IngestSettings = Field(default_factory=IngestSettings)
    auth: AuthSettings = Field(default_factory=AuthSettings)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    claim_check: ClaimCheckSettings = Field(default_factory=ClaimCheckSettings)


class EmbedConfig(ProcessSettings):
    """The embedding endpoint (searchapi's query embeddings)."""

    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    internal: InternalSettings = Field(default_factory=InternalSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)


class TransformConfig(EmbedConfig):
    """The transform function: chunks and embeds (the routing table gives its body limit)."""

    redis: RedisSettings = Field(default_factory=RedisSettings)
    chunker: ChunkerSettings = Field(default_factory=ChunkerSettings)
    extract: ExtractSettings = Field(default_factory=ExtractSettings)
    claim_check: ClaimCheckSettings = Field(default_factory=ClaimCheckSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)


class IndexConfig(ProcessSettings):
    """The index function (the embedder only by its identity)."""

    redis: RedisSettings = Field(default_factory=RedisSettings)
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    claim_check: ClaimCheckSettings = Field(default_factory=ClaimCheckSettings)
    routing: RoutingSettings = Field(default_factory=RoutingSettings)
    internal: InternalSettings = Field(default_factory=InternalSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)


class ModelsConfig(ProcessSettings):
    """The models function: model changes, copying chunks between collections."""

    redis: RedisSettings = Field(default_factory=RedisSettings)
    milvus: MilvusSettings = Field(default_factory=MilvusSettings)
    index: IndexSettings = Field(default_factory=IndexSettings)
    embedder: EmbedderSettings = Field(default_factory=EmbedderSettings)
    models: ModelsSettings = Field(default_factory=ModelsSettings)
    internal: InternalSettings = Field(default_factory=InternalSettings)
    logging: LoggingSettings = Field(default_factory=LoggingSettings)


PROCESSES: tuple[type[ProcessSettings], ...] = (
    QueuesConfig,
    WorkerConfig,
    IngestConfig,
    EmbedConfig,
    TransformConfig,
    IndexConfig,
    ModelsConfig,
)
GO_SECTIONS = frozenset({"searchapi"})
SECTIONS = frozenset(name for config in PROCESSES for name in config.model_fields) | GO_SECTIONS
"""Every top-level section a file of `conf/` or a `SLUICE_<SECTION>__…` variable may name."""
