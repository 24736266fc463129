"""W3C Trace Context for one document's journey: parse, start and continue `traceparent`.

A trace starts where a document enters (ingest: the HTTP `traceparent` header, or the submitted
CloudEvent's `traceparent` extension, else a new random trace) and travels in every event as the
CloudEvents distributed-tracing extension attributes `traceparent` and `tracestate`. RQ jobs carry
the events, so the trace crosses the queue with them. Every hop (ingest's request, a worker's
delivery attempt, a function handling an event) is a new span: same trace id, new span id, so the
logs of one document share `trace_id` and each line's `span_id` says which hop wrote it.

No OpenTelemetry: Sluice needs the ids in its logs and events, not spans exported to a collector,
and these few lines have no dependencies. An OpenTelemetry SDK added later can read and write the
same headers and attributes.
"""

from __future__ import annotations

import re
import secrets
from dataclasses import dataclass
from typing import Any

# version 00: "00-<32 hex trace id>-<16 hex parent id>-<2 hex flags>"; lower-case hex only.
_TRACEPARENT = re.compile(r"^([0-9a-f]{2})-([0-9a-f]{32})-([0-9a-f]{16})-([0-9a-f]{2})(-.*)?$")
SAMPLED = "01"


@dataclass(frozen=True)
class TraceContext:
    """One span of a trace: the ids a log line carries and a `traceparent` hands on."""

    trace_id: str
    span_id: str
    flags: str = SAMPLED
    tracestate: str | None = None

    @property
    def traceparent(self) -> str:
        """The W3C `traceparent` value naming this span as the parent."""
        return f"00-{self.trace_id}-{self.span_id}-{self.flags}"

    def child(self) -> TraceContext:
        """The next hop: same trace (and state), a new span id."""
        return TraceContext(self.trace_id, _random_hex(8), self.flags, self.tracestate)

    def log_fields(self) -> dict[str, str]:
        """The fields a log line carries for this span."""
        return {"trace_id": self.trace_id, "span_id": self.span_id}

    def attributes(self) -> dict[str, str]:
        """CloudEvents distributed-tracing extension attributes (also the HTTP header names)."""
        found = {"traceparent": self.traceparent}
        if self.tracestate:
            found["tracestate"] = self.tracestate
        return found


def parse_traceparent(value: str | None, tracestate: str | None = None) -> TraceContext | None:
    """The context a `traceparent` value names, or None if it is absent or invalid (the spec
    says to ignore an invalid one and start a new trace)."""
    if not value:
        return None
    match = _TRACEPARENT.match(value.strip())
    if match is None:
        return None
    version, trace_id, span_id, flags, rest = match.groups()
    # Version ff is forbidden; version 00 has exactly four fields; all-zero ids are invalid.
    if version == "ff" or (version == "00" and rest) or set(trace_id) == {"0"}:
        return None
    if set(span_id) == {"0"}:
        return None
    return TraceContext(trace_id, span_id, flags, tracestate.strip() if tracestate else None)


def new_trace() -> TraceContext:
    """A new sampled trace: random 16-byte trace id and 8-byte span id."""
    return TraceContext(_random_hex(16), _random_hex(8))


def from_headers(headers: Any) -> TraceContext | None:
    """The context of an HTTP request's `traceparent`/`tracestate` headers, if valid."""
    return parse_traceparent(headers.get("traceparent"), headers.get("tracestate"))


def from_event(event: Any) -> TraceContext | None:
    """The context of a CloudEvent's (or its structured JSON dict's) tracing extension."""
    return parse_traceparent(event.get("traceparent"), event.get("tracestate"))


def continue_from(*candidates: TraceContext | None) -> TraceContext:
    """A child span of the first known context, or a new trace if none is known."""
    for candidate in candidates:
        if candidate is not None:
            return candidate.child()
    return new_trace()


def _random_hex(size: int) -> str:
    while True:
        value = secrets.token_hex(size)
        if set(value) != {"0"}:  # all-zero ids are invalid (one chance in 2^64 or more)
            return value
