"""The trace goes on: ingest puts it in the events it enqueues, transform in its reply."""

from __future__ import annotations

import json
import uuid

from cloudevents.conversion import to_binary, to_structured
from cloudevents.http import from_http
from redis import Redis
from rq import Queue

from sluice.stores.documents import DocumentStore
from sluice.tracing import TraceContext, from_event
from tests.functions.conftest import FunctionClient
from tests.functions.events import HASHING, accepted, accepted_event

CALLER = TraceContext("4bf92f3577b34da6a3ce929d0e0e4736", "00f067aa0ba902b7", "01", "v=1")


def _ingest_and_read_the_job(
    function_client: FunctionClient, redis: Redis, tenant: str, **request: object
) -> dict[str, object]:
    """Submit a document; return the structured event of the delivery job ingest enqueued
    (on a queue of its own, which no worker reads)."""
    queue = Queue(f"trace-{uuid.uuid4().hex[:8]}", connection=redis)
    client = function_client(
        "ingest", routing={"subscribers": {"transform": {"queue": queue.name}}}
    )
    try:
        response = client.post("/documents", **request)
        assert response.status_code == 202, response.get_data(as_text=True)
        (job,) = queue.jobs
        (body,) = job.args[1]
        event: dict[str, object] = json.loads(body)
        assert event["tenant"] == tenant
        return event
    finally:
        queue.delete(delete_jobs=True)


def test_ingest_continues_the_callers_trace(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    event = _ingest_and_read_the_job(
        function_client,
        redis_client,
        tenant,
        json={"id": "traced", "text": "Some text.", "tenant": tenant},
        headers={"traceparent": CALLER.traceparent, "tracestate": "v=1"},
    )
    span = from_event(event)
    assert span is not None
    assert (span.trace_id, span.tracestate) == (CALLER.trace_id, "v=1")
    assert span.span_id != CALLER.span_id  # ingest's own span


def test_ingest_starts_a_trace_when_none_comes(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    first, second = (
        _ingest_and_read_the_job(
            function_client,
            redis_client,
            tenant,
            json={"id": f"untraced-{n}", "text": f"Text {n}.", "tenant": tenant},
            headers={"traceparent": "00-garbage"},  # invalid: ignored, as the spec says
        )
        for n in range(2)
    )
    spans = from_event(first), from_event(second)
    assert spans[0] is not None and spans[1] is not None
    assert spans[0].trace_id != spans[1].trace_id


def test_transform_replies_in_the_same_trace_in_both_modes(
    function_client: FunctionClient, redis_client: Redis, tenant: str
) -> None:
    client = function_client("transform")
    documents = DocumentStore(redis_client)
    for convert in (to_binary, to_structured):
        version = f"v-{convert.__name__}"
        documents.accept_many([accepted(tenant, "doc", version)], HASHING.key)
        event = accepted_event(tenant, version=version, text="One sentence.", trace=CALLER)
        headers, body = convert(event)
        response = client.post("/", headers=headers, data=body)
        assert response.status_code == 200, response.get_data(as_text=True)
        reply = from_event(from_http(dict(response.headers), response.get_data()))
        assert reply is not None
        assert (reply.trace_id, reply.tracestate) == (CALLER.trace_id, CALLER.tracestate)
        assert reply.span_id != CALLER.span_id
