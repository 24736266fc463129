"""CloudEvents on the wire, without a web framework: the functions' requests, the RQ workers'
deliveries and the subscribers' replies all go through here.

Three HTTP encodings, all with JSON data:
- binary mode: attributes in `ce-*` headers, the data as the body (`application/json`, or no
  content type: the SDKs omit it by default);
- structured mode: one event as `application/cloudevents+json`;
- a batch: `application/cloudevents-batch+json`, a JSON array of structured events (how RQ
  workers deliver the events of one publication, and how a function answers them).
Each body is parsed once; every malformed input raises a `BadRequest` or
`UnsupportedMediaType` saying what is wrong with it.
"""

from __future__ import annotations

import json
from collections.abc import Iterable, Sequence
from typing import Any, Protocol

from cloudevents.conversion import to_binary, to_dict, to_json
from cloudevents.exceptions import GenericException as CloudEventError
from cloudevents.http import CloudEvent, from_dict, from_http

from sluice.errors import BadRequest, UnsupportedMediaType

JSON = "application/json"
STRUCTURED = "application/cloudevents+json"
BATCH = "application/cloudevents-batch+json"
REQUIRED_ATTRIBUTES = ("specversion", "id", "source", "type")
SPECVERSION = "1.0"
# CloudEvents 1.0's context attributes are strings; extensions are strings, integers, booleans.
STRING_ATTRIBUTES = {*REQUIRED_ATTRIBUTES, "datacontenttype", "dataschema", "subject", "time"}
DATA_MEMBERS = ("data", "data_base64")
MAX_JSON_DEPTH = 512  # how deep the decoder recurses differs by Python version: bound it here


class Headers(Protocol):
    """HTTP headers: a dict, or a web framework's or HTTP client's headers object."""

    def items(self) -> Iterable[tuple[str, str]]:
        """(name, value) pairs."""
        ...


def media_type(headers: Headers) -> str:
    """The content type without parameters, lower-cased ('' if none)."""
    value = next((v for k, v in headers.items() if k.lower() == "content-type"), "")
    return value.split(";", 1)[0].strip().lower()


def is_event(headers: Headers) -> bool:
    """Whether a request carries a CloudEvent or a batch of them."""
    lowered = {k.lower() for k, _ in headers.items()}
    return "ce-specversion" in lowered or media_type(headers) in (STRUCTURED, BATCH)


def parse_json(body: bytes) -> Any:
    """Decode a UTF-8 JSON body, or 400 saying what is wrong with it."""
    try:
        text = body.decode("utf-8")
    except UnicodeDecodeError as exc:
        raise BadRequest(
            f"the body is not valid UTF-8 (byte {exc.start})", code="invalid_encoding"
        ) from None
    if not text.strip():
        raise BadRequest("the body is empty", code="empty_body")
    try:
        value = json.loads(text, parse_constant=_not_json)
    except json.JSONDecodeError as exc:
        raise BadRequest(f"the body is not valid JSON: {exc}", code="invalid_json") from None
    except RecursionError:
        raise BadRequest("the body is nested too deeply to parse", code="invalid_json") from None
    except ValueError as exc:  # e.g. an integer of more digits than Python converts
        raise BadRequest(f"the body is not valid JSON: {exc}", code="invalid_json") from None
    if _depth_exceeds(value, MAX_JSON_DEPTH):
        raise BadRequest(
            f"the body is nested deeper than {MAX_JSON_DEPTH} levels", code="invalid_json"
        )
    return value


def _depth_exceeds(value: Any, limit: int) -> bool:
    """Whether arrays and objects nest more than `limit` deep (walked without recursion)."""
    stack = [(value, 1)]
    while stack:
        item, depth = stack.pop()
        if isinstance(item, dict):
            item = list(item.values())
        if not isinstance(item, list):
            continue
        if depth > limit:
            return True
        stack.extend((child, depth + 1) for child in item)
    return False


def _not_json(constant: str) -> None:
    """Python's json reads NaN and Infinity, which JSON does not have."""
    raise ValueError(f"{constant} is not a JSON value")


def decode(
    headers: Headers, body: bytes, accepted_types: Iterable[str] | None
) -> tuple[list[CloudEvent], bool]:
    """The events of a request or reply (binary, structured or batch), with JSON data and each
    of one of `accepted_types` (None: any type); and whether they came as a batch."""
    accepted = None if accepted_types is None else tuple(accepted_types)
    kind = media_type(headers)
    if kind == BATCH:
        return decode_batch(body, accepted), True
    if kind == STRUCTURED:
        return [_checked(_from_dict(parse_json(body), "the event"), accepted)], False
    if kind not in (JSON, ""):
        raise UnsupportedMediaType(
            f"content type {kind or '(none)'!r} is not supported; send a CloudEvent with JSON "
            f"data (binary mode), as {STRUCTURED} or as {BATCH}"
        )
    present = {k.lower() for k, _ in headers.items()}
    missing = [a for a in REQUIRED_ATTRIBUTES if f"ce-{a}" not in present]
    if missing:
        raise BadRequest(
            f"the CloudEvent lacks required attributes: {', '.join(missing)} "
            "(binary mode: ce-* headers)",
            code="invalid_cloudevent",
        )
    data = parse_json(body)
    try:
        event = from_http(dict(headers.items()), body, data_unmarshaller=lambda _: data)
    except CloudEventError as exc:
        raise BadRequest(f"not a valid CloudEvent: {exc}", code="invalid_cloudevent") from None
    return [_checked(event, accepted)], False


def decode_batch(body: bytes, accepted_types: Iterable[str] | None) -> list[CloudEvent]:
    """The events of a JSON batch of structured-mode CloudEvents."""
    items = parse_json(body)
    if not isinstance(items, list) or not items:
        raise BadRequest(
            "a CloudEvents batch must be a non-empty JSON array", code="invalid_cloudevent"
        )
    accepted = None if accepted_types is None else tuple(accepted_types)
    return [_checked(_from_dict(item, f"batch item {i}"), accepted) for i, item in enumerate(items)]


def encode_batch(events: Sequence[CloudEvent]) -> bytes:
    """A JSON batch of the events (structured mode)."""
    return json.dumps([to_dict(event) for event in events]).encode("utf-8")


def structured(event: CloudEvent) -> str:
    """One event as structured-mode JSON (how RQ jobs carry it)."""
    return to_json(event).decode("utf-8")


def binary(event: CloudEvent) -> tuple[dict[str, str], bytes]:
    """One event in binary mode: its headers and body (a reply; what the broker takes)."""
    return to_binary(event)


def _from_dict(item: Any, what: str) -> CloudEvent:
    if not isinstance(item, dict):
        raise BadRequest(f"{what} is not a JSON object", code="invalid_cloudevent")
    missing = [a for a in REQUIRED_ATTRIBUTES if a not in item]
    if missing:  # the SDK would make up a specversion
        raise BadRequest(
            f"{what} lacks required attributes: {', '.join(missing)}", code="invalid_cloudevent"
        )
    for name, value in item.items():
        # The SDK takes any JSON (and fails with a TypeError on an object as specversion).
        if name in DATA_MEMBERS:
            continue
        allowed = (str,) if name in STRING_ATTRIBUTES else (str, int, bool)
        if not isinstance(value, allowed):
            kind = "a string" if name in STRING_ATTRIBUTES else "a string, integer or boolean"
            raise BadRequest(
                f"{what}: attribute {name[:40]!r} must be {kind}",
                code="invalid_cloudevent",
            )
    try:
        return from_dict(item)
    except CloudEventError as exc:
        raise BadRequest(
            f"{what} is not a valid CloudEvent: {exc}", code="invalid_cloudevent"
        ) from None


def _checked(event: CloudEvent, accepted: tuple[str, ...] | None) -> CloudEvent:
    for attribute in REQUIRED_ATTRIBUTES:  # the SDK takes empty strings, numbers, objects
        value = event.get(attribute)
        if not isinstance(value, str) or not value:
            raise BadRequest(
                f"the CloudEvent's {attribute} must be a non-empty string",
                code="invalid_cloudevent",
            )
    if event["specversion"] != SPECVERSION:
        raise BadRequest(
            f"CloudEvents {event['specversion'][:20]!r} is not supported; send {SPECVERSION}",
            code="invalid_cloudevent",
        )
    if accepted is not None and event["type"] not in accepted:
        raise BadRequest(
            f"unknown event type {event['type']!r}; this function accepts {', '.join(accepted)}",
            code="unknown_event_type",
        )
    if not isinstance(event.data, dict | list):
        raise BadRequest("the event data must be JSON (an object)", code="invalid_event_data")
    return event
