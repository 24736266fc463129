"""Claim checks: payloads too large for an event are parked in Redis and passed by key."""

from __future__ import annotations

import hashlib
from typing import TypeVar

from redis import Redis

from sluice.errors import ValidationFailed
from sluice.events import ClaimCheck, Payload

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
