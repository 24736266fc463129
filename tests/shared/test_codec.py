"""sluice.codec: every malformed body is a 400 naming the problem, on every Python; an event
lacking a required attribute (or with an empty one) is refused."""

from __future__ import annotations

import json

import pytest

from sluice import codec
from sluice.errors import BadRequest


@pytest.mark.parametrize("depth", [1, 300, codec.MAX_JSON_DEPTH])
def test_nesting_up_to_the_limit_parses(depth: int) -> None:
    assert codec.parse_json(b"[" * depth + b"]" * depth) is not None


@pytest.mark.parametrize(
    "body",
    [
        b"[" * (codec.MAX_JSON_DEPTH + 1) + b"]" * (codec.MAX_JSON_DEPTH + 1),
        b'{"a":' * (codec.MAX_JSON_DEPTH + 1) + b"{}" + b"}" * (codec.MAX_JSON_DEPTH + 1),
        b"[" * 100_000 + b"]" * 100_000,  # deeper than the decoder's own recursion limit
    ],
    ids=["arrays-just-over", "objects-just-over", "far-over"],
)
def test_nesting_past_the_limit_is_a_400_whatever_the_decoder_allows(body: bytes) -> None:
    with pytest.raises(BadRequest) as raised:
        codec.parse_json(body)
    assert raised.value.code == "invalid_json"
    assert "nested" in str(raised.value)


@pytest.mark.parametrize(
    ("body", "code"),
    [
        (b"", "empty_body"),
        (b"\xff", "invalid_encoding"),
        (b"{", "invalid_json"),
        (b"[NaN]", "invalid_json"),
        (b"[Infinity]", "invalid_json"),
        (b"9" * 5000, "invalid_json"),
    ],
)
def test_malformed_bodies_name_their_problem(body: bytes, code: str) -> None:
    with pytest.raises(BadRequest) as raised:
        codec.parse_json(body)
    assert raised.value.code == code


STRUCTURED = {"content-type": codec.STRUCTURED}
EVENT = {"specversion": "1.0", "id": "e1", "source": "/t", "type": "t.x", "data": {"text": "x"}}


@pytest.mark.parametrize(
    ("headers", "body"),
    [
        # Issue 11 (schemathesis on ingest): each of these was decoded and accepted.
        (STRUCTURED, {k: v for k, v in EVENT.items() if k != "specversion"}),
        (STRUCTURED, {**EVENT, "source": ""}),
        (STRUCTURED, {**EVENT, "id": ""}),
        (STRUCTURED, {**EVENT, "id": 5}),
        (STRUCTURED, {**EVENT, "specversion": "0.3"}),
        (STRUCTURED, {**EVENT, "specversion": {}}),  # was a 500: a TypeError in the SDK
        (STRUCTURED, {**EVENT, "specversion": ["1.0"]}),
        (STRUCTURED, {**EVENT, "datacontenttype": {}}),
        (STRUCTURED, {**EVENT, "subject": None}),
        (STRUCTURED, {**EVENT, "traceparent": ["00-…"]}),
        ({"ce-specversion": "1.0", "ce-id": "e1", "ce-source": "", "ce-type": "t.x"}, {}),
        ({"ce-specversion": "1.0", "ce-id": "", "ce-source": "/t", "ce-type": "t.x"}, {}),
    ],
)
def test_an_event_needs_every_required_attribute_as_a_non_empty_string(
    headers: dict[str, str], body: object
) -> None:
    with pytest.raises(BadRequest) as raised:
        codec.decode(headers, json.dumps(body).encode(), None)
    assert raised.value.code == "invalid_cloudevent"
    # In a batch, too.
    if headers is STRUCTURED:
        with pytest.raises(BadRequest) as raised:
            codec.decode({"content-type": codec.BATCH}, json.dumps([body]).encode(), None)
        assert raised.value.code == "invalid_cloudevent"


def test_a_complete_event_decodes_with_its_extensions() -> None:
    body = {**EVENT, "subject": "doc", "tenant": "acme", "attempt": 2, "replayed": True}
    (event,), batch = codec.decode(STRUCTURED, json.dumps(body).encode(), ["t.x"])
    assert (event["id"], event["source"], event.data, batch) == ("e1", "/t", {"text": "x"}, False)
    assert (event["tenant"], event["attempt"], event["replayed"]) == ("acme", 2, True)
