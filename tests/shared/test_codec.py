"""sluice.codec.parse_json: every malformed body is a 400 naming the problem, on every Python."""

from __future__ import annotations

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
