"""One document's journey in the logs: every process writes JSON lines, and ingest, the
delivery workers, transform and index all log the document with the same trace id."""

from __future__ import annotations

import json
import re
from pathlib import Path
from typing import Any

import httpx

from dev.stack import Stack, worker_names
from tests.conftest import TRANSFORM_WORKERS, wait_for, wait_status

TRACE_ID = "0af7651916cd43dd8448eb211c80319c"
TRACEPARENT = f"00-{TRACE_ID}-b7ad6b7169203331-01"
# Every hop of the journey, and the processes whose logs show it.
HOPS = {
    "ingest": ["ingest"],
    "transform deliveries": [n for n in worker_names(TRANSFORM_WORKERS) if "transform" in n],
    "transform": ["transform"],
    "index deliveries": ["worker-index-1"],
    "index": ["index"],
}


def _lines(stack: Stack, names: list[str]) -> list[dict[str, Any]]:
    """Every log line of the processes, each parsed as one JSON object (or the test fails)."""
    lines = []
    for name in names:
        path: Path = stack.log_path(name)
        for number, line in enumerate(path.read_text(errors="replace").splitlines(), 1):
            try:
                parsed = json.loads(line)
            except json.JSONDecodeError:
                raise AssertionError(f"{path}:{number} is not JSON: {line[:200]}") from None
            assert isinstance(parsed, dict), f"{path}:{number} is not a JSON object"
            lines.append(parsed)
    return lines


def _journey(stack: Stack, doc_id: str, trace_id: str) -> dict[str, list[dict[str, Any]]]:
    """Each hop's log lines about the document in the trace (empty list: none yet)."""
    return {
        hop: [
            line
            for line in _lines(stack, names)
            if line.get("document_id") == doc_id and line.get("trace_id") == trace_id
        ]
        for hop, names in HOPS.items()
    }


def _follow(stack: Stack, doc_id: str, trace_id: str) -> dict[str, list[dict[str, Any]]]:
    """Wait until every hop logged the document in the trace; return the lines."""
    found = wait_for(
        lambda: (j := _journey(stack, doc_id, trace_id)) and all(j.values()) and j,
        30,
        f"every hop to log {doc_id} with trace {trace_id}",
    )
    assert isinstance(found, dict)
    return found


def test_a_callers_trace_follows_the_document_through_every_process(
    stack: Stack, ingest: httpx.Client, tenant: str
) -> None:
    response = ingest.post(
        "/documents",
        json={"id": "traced", "text": "Follow me through the pipeline.", "tenant": tenant},
        headers={"traceparent": TRACEPARENT},
    )
    assert response.status_code == 202
    wait_status(ingest, "traced", tenant, "indexed")
    journey = _follow(stack, "traced", TRACE_ID)
    assert all(line["tenant"] == tenant for lines in journey.values() for line in lines)
    # Every hop is a span of its own; none reuses the caller's.
    spans = {line["span_id"] for lines in journey.values() for line in lines}
    assert len(spans) >= len(HOPS)
    assert "b7ad6b7169203331" not in spans
    index_line = next(line for line in journey["index"] if line["message"] == "indexed")
    assert index_line["level"] == "INFO" and index_line["logger"].startswith("sluice_index")


def test_each_document_of_a_batch_is_logged_by_every_hop_in_the_batch_s_trace(
    stack: Stack, ingest: httpx.Client, tenant: str
) -> None:
    # A batch travels as one RQ job and one HTTP call per hop; every hop still logs each
    # document (the workers from the job's meta, without decoding the events).
    batch = [{"id": f"batched-{n}", "text": f"Batch member {n}.", "tenant": tenant} for n in (1, 2)]
    response = ingest.post(
        "/documents", json={"documents": batch}, headers={"traceparent": TRACEPARENT}
    )
    assert response.status_code == 202
    for document in batch:
        wait_status(ingest, document["id"], tenant, "indexed")
        _follow(stack, document["id"], TRACE_ID)


def test_a_document_without_a_trace_gets_a_new_one_that_follows_it(
    stack: Stack, ingest: httpx.Client, tenant: str
) -> None:
    response = ingest.post(
        "/documents", json={"id": "untraced", "text": "No trace given.", "tenant": tenant}
    )
    assert response.status_code == 202
    wait_status(ingest, "untraced", tenant, "indexed")
    started = [
        line
        for line in _lines(stack, HOPS["ingest"])
        if line.get("document_id") == "untraced" and line.get("tenant") == tenant
    ]
    assert started, "ingest did not log the document"
    trace_id = started[0]["trace_id"]
    assert re.fullmatch(r"[0-9a-f]{32}", trace_id) and trace_id != TRACE_ID
    _follow(stack, "untraced", trace_id)


def test_every_process_of_the_stack_writes_only_json(stack: Stack) -> None:
    names = [name for name in stack.commands() if name not in ("redis", "milvus", "searchapi")]
    assert {"exporter", "embed", "models"} <= set(names)  # embed and models run with hashing too
    lines = _lines(stack, names)
    assert lines
    assert all({"time", "level", "message", "logger"} <= line.keys() for line in lines)
