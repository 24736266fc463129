"""Prometheus metrics shared by the functions and the workers (names follow Prometheus rules).

Each process exposes its own metrics. Functions run under gunicorn with one worker process and
many threads by default (functions-framework's `WORKERS=1`), and prometheus-client's metrics are
thread-safe, so /metrics just serves the process's registry. With more worker processes, set
PROMETHEUS_MULTIPROC_DIR to an empty folder shared by them (before the server starts): every
process then writes its samples to files there and `exposition()` adds them up, whichever
worker answers the scrape (see docs/pipeline.md).
"""

from __future__ import annotations

import os
import re
from pathlib import Path

from prometheus_client import (
    REGISTRY,
    CollectorRegistry,
    Counter,
    Gauge,
    Histogram,
    generate_latest,
    multiprocess,
)

from sluice.processes import alive

FUNCTION_REQUESTS = Counter(
    "sluice_function_requests_total",
    "HTTP requests handled by a function, by route and outcome (HTTP status class).",
    ["function", "route", "outcome"],
)
FUNCTION_DURATION = Histogram(
    "sluice_function_request_duration_seconds",
    "Time a function took to handle a request.",
    ["function", "route"],
)
EVENTS = Counter(
    "sluice_events_total",
    "CloudEvents received (in) or emitted (out) by a function, by type.",
    ["function", "direction", "type"],
)
DOCUMENTS = Counter(
    "sluice_documents_total",
    "Document status transitions, by the status reached.",
    ["status"],
)
CHUNKS_PER_DOCUMENT = Histogram(
    "sluice_chunks_per_document",
    "Chunks produced per document.",
    buckets=(1, 2, 5, 10, 20, 50, 100, 200, 500, 1000),
)
EMBED_BATCH_SIZE = Histogram(
    "sluice_embedding_batch_size",
    "Texts per embedding batch.",
    buckets=(1, 2, 4, 8, 16, 32, 64, 128, 256),
)
EMBED_DURATION = Histogram(
    "sluice_embedding_duration_seconds",
    "Time to embed one batch.",
)
EXTRACT_DURATION = Histogram(
    "sluice_extract_duration_seconds",
    "Time to turn one file into text, by format and outcome (ok, failed).",
    ["format", "outcome"],
    buckets=(0.01, 0.025, 0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
MILVUS_WRITE_DURATION = Histogram(
    "sluice_milvus_write_duration_seconds",
    "Time of a Milvus write, by operation.",
    ["operation"],
)
MIGRATION_COPIED = Counter(
    "sluice_migration_copied_documents_total",
    "Documents copied into another model's collection by the models function.",
)
MIGRATION_DOCUMENTS = Gauge(
    "sluice_migration_documents",
    "The model change's documents, by state: done (copied into the new model's collection "
    "since the change began) and pending (waiting), per model of the collection they go to.",
    ["model", "state"],
    multiprocess_mode="mostrecent",
)
MODEL_INFO = Gauge(
    "sluice_model_info",
    "1 for the model state: the active model, the other one kept beside it ('' if none) and "
    "the phase of the change (building, ready, previous or '').",
    ["active", "other", "phase"],
    multiprocess_mode="mostrecent",
)
MILVUS_ROWS = Counter(
    "sluice_milvus_rows_total",
    "Rows written to (upsert) or removed from (delete) Milvus.",
    ["operation"],
)
DELIVERIES = Counter(
    "sluice_deliveries_total",
    "Event deliveries by RQ workers, by subscriber and outcome.",
    ["subscriber", "outcome"],
)
DELIVERY_DURATION = Histogram(
    "sluice_delivery_duration_seconds",
    "Time of one delivery attempt (HTTP call to the subscriber).",
    ["subscriber"],
)
DELIVERY_RETRIES = Counter(
    "sluice_delivery_retries_total",
    "Failed delivery attempts scheduled for another attempt (with backoff).",
    ["subscriber"],
)
DEAD_LETTERED = Counter(
    "sluice_dead_lettered_total",
    "Events whose delivery finally failed and were left in the failed-job registry.",
    ["subscriber"],
)
RECONCILED = Counter(
    "sluice_reconciled_documents_total",
    "Document versions in flight whose delivery was lost (no job carried them), published "
    "again by the reconciler.",
)
COLD_START = Histogram(
    "sluice_cold_start_seconds",
    "Time from the server process's start to the first time it could serve (once per process).",
    ["function"],
    # searchapi's (Go) buckets, so the cold starts of every service aggregate together.
    buckets=(0.05, 0.1, 0.25, 0.5, 1, 2.5, 5, 10, 30, 60),
)
DOCUMENT_FRESHNESS = Histogram(
    "sluice_document_freshness_seconds",
    "Time from ingest accepting a document version to index marking it indexed (once per "
    "version): how long until a change is searchable.",
    buckets=(0.1, 0.25, 0.5, 1, 2, 5, 10, 30, 60, 120, 300, 600, 1800, 3600),
)


def exposition() -> bytes:
    """The text a /metrics scrape returns: this process's registry, or, in multiprocess mode,
    the samples of every process writing to PROMETHEUS_MULTIPROC_DIR."""
    directory = os.environ.get("PROMETHEUS_MULTIPROC_DIR")
    if not directory:
        return generate_latest(REGISTRY)
    mark_dead_processes(Path(directory))
    registry = CollectorRegistry()
    multiprocess.MultiProcessCollector(registry, path=directory)  # type: ignore[no-untyped-call]
    return generate_latest(registry)


_PID_IN_FILE = re.compile(r"_(\d+)\.db$")


def mark_dead_processes(directory: Path) -> None:
    """Drop the live-gauge files of processes that no longer run.

    This is what gunicorn's `child_exit` hook should do (`multiprocess.mark_process_dead`), but
    functions-framework starts gunicorn without a way to set hooks; doing it at scrape time
    gives the same result. Counters and histograms of dead processes stay: they are cumulative.
    """
    for path in directory.glob("gauge_live*.db"):
        match = _PID_IN_FILE.search(path.name)
        if match and not alive(int(match.group(1))):
            pid = int(match.group(1))
            multiprocess.mark_process_dead(pid, str(directory))  # type: ignore[no-untyped-call]
