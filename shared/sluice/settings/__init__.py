"""Settings: the sections of `conf/*.yaml` (`sections`), what each process reads of them
(`processes`), and how they are loaded and checked (`loading`)."""

from sluice.settings.loading import ProcessSettings, load_settings
from sluice.settings.processes import (
    SECTIONS,
    EmbedConfig,
    IndexConfig,
    IngestConfig,
    QueuesConfig,
    TransformConfig,
    WorkerConfig,
)
from sluice.settings.sections import (
    AuthSettings,
    ChunkerSettings,
    ClaimCheckSettings,
    EmbedderSettings,
    IndexSettings,
    IngestSettings,
    InternalSettings,
    LoggingSettings,
    MilvusSettings,
    RedisSettings,
    RetrySettings,
    RouteSettings,
    RoutingSettings,
    SubscriberSettings,
    Transport,
    WorkerSettings,
)

__all__ = [
    "SECTIONS",
    "AuthSettings",
    "ChunkerSettings",
    "ClaimCheckSettings",
    "EmbedConfig",
    "EmbedderSettings",
    "IndexConfig",
    "IndexSettings",
    "IngestConfig",
    "IngestSettings",
    "InternalSettings",
    "LoggingSettings",
    "MilvusSettings",
    "ProcessSettings",
    "QueuesConfig",
    "RedisSettings",
    "RetrySettings",
    "RouteSettings",
    "RoutingSettings",
    "SubscriberSettings",
    "TransformConfig",
    "Transport",
    "WorkerConfig",
    "WorkerSettings",
    "load_settings",
]
