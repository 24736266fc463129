"""Claim checks: payloads too large for an event, and submitted files, are parked in Redis and
passed by key.

Both kinds are content-addressed (the SHA-256 of the bytes) and expire after the claim-check
TTL (`claim_check.ttl_seconds`, a day by default): a document still waiting for transform after
that fails, and must be submitted again. Redis holds each value whole, in memory: a file is at
most `ingest.max_file_bytes` (16 MiB by default; Redis' own limit for a value is 512 MiB).
"""

from __future__ import annotations

import hashlib
from typing import TypeVar

from redis import Redis

from sluice.errors import ValidationFailed
from sluice.events import ClaimCheck, FileRef, Payload

P = TypeVar("P", bound=Payload)


class BlobStore:
    """Stores payloads under content-addressed keys with a TTL."""

    def __init__(
        self, redis: Redis, prefix: str = "sluice", *, threshold_bytes: int, ttl_seconds: int
    ) -> None:
        self.redis = redis
        self.prefix = prefix
        self.threshold_bytes = threshold_bytes
        self.ttl_seconds = ttl_seconds

    def wrap(self, payload: Payload) -> Payload:
        """The payload itself if small enough, else a claim check for it (stored in Redis)."""
        body = payload.model_dump_json().encode("utf-8")
        if len(body) <= self.threshold_bytes:
            return payload
        key = f"{self.prefix}:blob:{hashlib.sha256(body).hexdigest()}"
        self.redis.set(key, body, ex=self.ttl_seconds)
        return ClaimCheck(claim_check=key)

    def put_file(self, data: bytes) -> tuple[str, str]:
        """Park a submitted file's bytes; (its key, its SHA-256). Storing the same bytes again
        renews their TTL."""
        digest = hashlib.sha256(data).hexdigest()
        key = f"{self.prefix}:file:{digest}"
        self.redis.set(key, data, ex=self.ttl_seconds)
        return key, digest

    def get_file(self, file: FileRef) -> bytes:
        """A parked file's bytes; `ValidationFailed` if the reference is not one of ours or the
        bytes are gone (expired)."""
        if file.key != f"{self.prefix}:file:{file.sha256}":
            raise ValidationFailed(
                f"file key {file.key!r} is not one of ours", code="bad_claim_check"
            )
        data = self.redis.get(file.key)
        if data is None:
            raise ValidationFailed(
                f"the file expired before it was read ({self.ttl_seconds} s after it was "
                "submitted): submit it again",
                code="claim_check_missing",
            )
        assert isinstance(data, bytes)
        return data

    def unwrap(self, data: object, model: type[P]) -> P:
        """The payload of an event's data, fetching it from Redis if it is a claim check."""
        if isinstance(data, dict) and set(data) == {"claim_check"}:
            key = str(data["claim_check"])
            if not key.startswith(f"{self.prefix}:blob:"):
                raise ValidationFailed(
                    f"claim check {key!r} is not one of ours", code="bad_claim_check"
                )
            body = self.redis.get(key)
            if body is None:
                raise ValidationFailed(
                    f"claim check {key} has expired or never existed", code="claim_check_missing"
                )
            return model.model_validate_json(body)
        return model.model_validate(data)
