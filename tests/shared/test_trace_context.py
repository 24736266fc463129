"""W3C traceparent parsing and generation, and the trace carried by CloudEvents."""

from __future__ import annotations

import re

import pytest
from cloudevents.conversion import to_json
from cloudevents.http import from_json

from sluice.events import DOCUMENT_ACCEPTED, DocumentDeleted, make_event
from sluice.tracing import (
    TraceContext,
    continue_from,
    from_event,
    from_headers,
    new_trace,
    parse_traceparent,
)

TRACE = "4bf92f3577b34da6a3ce929d0e0e4736"
SPAN = "00f067aa0ba902b7"
VALID = f"00-{TRACE}-{SPAN}-01"


def test_a_valid_traceparent_is_parsed() -> None:
    context = parse_traceparent(VALID, "vendor=x")
    assert context == TraceContext(TRACE, SPAN, "01", "vendor=x")
    assert context.traceparent == VALID


def test_a_future_version_with_more_fields_is_read() -> None:
    # The spec: parse a higher version's first four fields, ignore what follows.
    assert parse_traceparent(f"cc-{TRACE}-{SPAN}-01-extra") == TraceContext(TRACE, SPAN, "01")


@pytest.mark.parametrize(
    "value",
    [
        None,
        "",
        "garbage",
        f"ff-{TRACE}-{SPAN}-01",  # version ff is forbidden
        f"00-{TRACE}-{SPAN}-01-extra",  # version 00 has exactly four fields
        f"00-{'0' * 32}-{SPAN}-01",  # all-zero trace id
        f"00-{TRACE}-{'0' * 16}-01",  # all-zero parent id
        f"00-{TRACE.upper()}-{SPAN}-01",  # upper-case hex is invalid
        f"00-{TRACE[:-1]}-{SPAN}-01",  # short trace id
        f"00-{TRACE}-{SPAN}0-01",  # long parent id
    ],
)
def test_an_invalid_traceparent_is_ignored(value: str | None) -> None:
    assert parse_traceparent(value) is None


def test_a_new_trace_is_random_sampled_and_valid() -> None:
    first, second = new_trace(), new_trace()
    assert re.fullmatch(r"[0-9a-f]{32}", first.trace_id)
    assert re.fullmatch(r"[0-9a-f]{16}", first.span_id)
    assert first.flags == "01"
    assert first.trace_id != second.trace_id
    assert parse_traceparent(first.traceparent) == first


def test_a_child_keeps_the_trace_and_state_with_a_new_span() -> None:
    parent = TraceContext(TRACE, SPAN, "00", "vendor=x")
    child = parent.child()
    assert (child.trace_id, child.flags, child.tracestate) == (TRACE, "00", "vendor=x")
    assert child.span_id != SPAN


def test_continue_from_takes_the_first_known_context_or_starts_a_trace() -> None:
    known = TraceContext(TRACE, SPAN)
    assert continue_from(None, known).trace_id == TRACE
    assert continue_from(TraceContext("a" * 32, SPAN), known).trace_id == "a" * 32
    assert continue_from(None, None).trace_id != TRACE


def test_headers_are_read_case_insensitively_like_http_headers() -> None:
    from werkzeug.datastructures import Headers

    headers = Headers({"TraceParent": VALID, "TraceState": "a=1"})
    assert from_headers(headers) == TraceContext(TRACE, SPAN, "01", "a=1")
    assert from_headers(Headers()) is None


def test_events_carry_the_trace_as_the_distributed_tracing_extension() -> None:
    span = TraceContext(TRACE, SPAN, "01", "vendor=x")
    event = make_event(
        DOCUMENT_ACCEPTED,
        "/test",
        DocumentDeleted(id="d", tenant="t", deleted_at="2026-01-01T00:00:00+00:00"),
        subject="d",
        tenant="t",
        trace=span,
    )
    assert event["traceparent"] == VALID
    assert event["tracestate"] == "vendor=x"
    # Through structured-mode JSON (how RQ jobs carry events) and back.
    assert from_event(from_json(to_json(event))) == span


def test_an_event_without_trace_has_no_extension() -> None:
    event = make_event(
        DOCUMENT_ACCEPTED,
        "/test",
        DocumentDeleted(id="d", tenant="t", deleted_at="2026-01-01T00:00:00+00:00"),
        subject="d",
        tenant="t",
    )
    assert event.get("traceparent") is None
    assert from_event(event) is None
