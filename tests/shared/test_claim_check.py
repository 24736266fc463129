"""Claim checks: large payloads travel through Redis by key, small ones travel as they are."""

from __future__ import annotations

import time
from collections.abc import Iterator

import pytest
from redis import Redis

from sluice.errors import ValidationFailed
from sluice.events import ClaimCheck, DocumentAccepted
from sluice.stores.blobs import BlobStore

THRESHOLD = 1000
TTL = 3600


def _document(text: str) -> DocumentAccepted:
    return DocumentAccepted(
        id="doc-1",
        tenant="acme",
        version="v1",
        title="Title",
        text=text,
        metadata={"k": [1, 2, 3]},
        accepted_at="2024-01-02T03:04:05+00:00",
    )


def _size(payload: DocumentAccepted) -> int:
    """The payload's size on the wire: its JSON, in UTF-8 bytes."""
    return len(payload.model_dump_json().encode("utf-8"))


@pytest.fixture
def redis(redis_server) -> Iterator[Redis]:
    client = redis_server.client()
    client.flushdb()
    try:
        yield client
    finally:
        client.close()


@pytest.fixture
def blobs(redis: Redis) -> BlobStore:
    return BlobStore(redis, "sluice", threshold_bytes=THRESHOLD, ttl_seconds=TTL)


def test_a_small_payload_passes_through_unchanged(blobs: BlobStore, redis: Redis):
    payload = _document("short text")
    assert blobs.wrap(payload) is payload
    assert redis.dbsize() == 0
    assert blobs.unwrap(payload.model_dump(mode="json"), DocumentAccepted) == payload


def test_a_large_payload_becomes_a_claim_check_and_comes_back_equal(blobs: BlobStore, redis: Redis):
    payload = _document("Ünïcödé 東京 🙂 " * 200)
    wrapped = blobs.wrap(payload)
    assert isinstance(wrapped, ClaimCheck)
    data = wrapped.model_dump(mode="json")
    assert data == {"claim_check": wrapped.claim_check}
    assert wrapped.claim_check.startswith("sluice:blob:")
    assert 0 < redis.ttl(wrapped.claim_check) <= TTL
    assert blobs.unwrap(data, DocumentAccepted) == payload


def test_the_threshold_is_inclusive_and_in_bytes(blobs: BlobStore):
    padding = "a" * 1000
    base = _document("")
    fill = THRESHOLD - _size(base)
    at_threshold = _document(padding[:fill])
    assert _size(at_threshold) == THRESHOLD
    assert blobs.wrap(at_threshold) is at_threshold
    assert isinstance(blobs.wrap(_document(padding[: fill + 1])), ClaimCheck)
    # Counted in UTF-8 bytes, not characters: "é" is two bytes.
    accented = _document("é" * (fill // 2 + 1))
    assert len(accented.model_dump_json()) <= THRESHOLD < _size(accented)
    assert isinstance(blobs.wrap(accented), ClaimCheck)


def test_the_same_payload_gets_the_same_key(blobs: BlobStore, redis: Redis):
    payload = _document("x" * 5000)
    first = blobs.wrap(payload)
    second = blobs.wrap(payload.model_copy())
    other = blobs.wrap(_document("y" * 5000))
    assert isinstance(first, ClaimCheck)
    assert isinstance(second, ClaimCheck)
    assert isinstance(other, ClaimCheck)
    assert first.claim_check == second.claim_check != other.claim_check
    assert redis.dbsize() == 2


def test_an_expired_claim_check_raises_claim_check_missing(blobs: BlobStore, redis: Redis):
    wrapped = blobs.wrap(_document("z" * 5000))
    assert isinstance(wrapped, ClaimCheck)
    redis.pexpire(wrapped.claim_check, 1)
    deadline = time.monotonic() + 5
    while redis.exists(wrapped.claim_check) and time.monotonic() < deadline:
        time.sleep(0.01)
    with pytest.raises(ValidationFailed) as info:
        blobs.unwrap(wrapped.model_dump(), DocumentAccepted)
    assert info.value.code == "claim_check_missing"
    assert info.value.status == 422


def test_a_claim_check_that_never_existed_raises_claim_check_missing(blobs: BlobStore):
    with pytest.raises(ValidationFailed) as info:
        blobs.unwrap({"claim_check": "sluice:blob:" + "0" * 64}, DocumentAccepted)
    assert info.value.code == "claim_check_missing"


@pytest.mark.parametrize(
    "key",
    [
        "sluice:documents:doc-1",  # another key of ours, which exists
        "other:blob:" + "0" * 64,  # another prefix
        "sluice:blobs",
        "",
    ],
)
def test_a_foreign_key_raises_bad_claim_check(blobs: BlobStore, redis: Redis, key: str):
    redis.set("sluice:documents:doc-1", _document("secret").model_dump_json())
    with pytest.raises(ValidationFailed) as info:
        blobs.unwrap({"claim_check": key}, DocumentAccepted)
    assert info.value.code == "bad_claim_check"
    assert info.value.status == 422


def test_the_key_prefix_is_respected(redis: Redis):
    mine = BlobStore(redis, "tenant-a", threshold_bytes=10, ttl_seconds=TTL)
    theirs = BlobStore(redis, "sluice", threshold_bytes=10, ttl_seconds=TTL)
    payload = _document("some text that is over ten bytes")
    wrapped = mine.wrap(payload)
    assert isinstance(wrapped, ClaimCheck)
    assert wrapped.claim_check.startswith("tenant-a:blob:")
    assert mine.unwrap(wrapped.model_dump(), DocumentAccepted) == payload
    with pytest.raises(ValidationFailed) as info:
        theirs.unwrap(wrapped.model_dump(), DocumentAccepted)
    assert info.value.code == "bad_claim_check"
