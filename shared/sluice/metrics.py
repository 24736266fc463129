"""Prometheus metrics shared by the functions and the workers (names follow Prometheus rules)."""

from __future__ import annotations

from prometheus_client import Counter, Histogram

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
MILVUS_WRITE_DURATION = Histogram(
    "sluice_milvus_write_duration_seconds",
    "Time of a Milvus write, by operation.",
    ["operation"],
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
DEAD_LETTERED = Counter(
    "sluice_dead_lettered_total",
    "Events whose delivery finally failed and were left in the failed-job registry.",
    ["subscriber"],
)
