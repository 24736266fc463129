"""Document records in Redis: status, current version, chunk count, error; compare-and-set updates.

A record is one hash per (tenant, document id). Every status change names the version it is
about and is applied only while that version is still the document's current one, so a late
event about an older version can never overwrite the state of a newer one.
"""

from __future__ import annotations

from collections.abc import Iterable
from enum import StrEnum
from typing import Any

from redis import Redis
from redis.lock import Lock

from sluice.events import now_iso


class Status(StrEnum):
    """The life of a document version."""

    ACCEPTED = "accepted"
    TRANSFORMING = "transforming"
    EMBEDDED = "embedded"
    INDEXED = "indexed"
    FAILED = "failed"
    DELETED = "deleted"


IN_FLIGHT = frozenset({Status.ACCEPTED, Status.TRANSFORMING, Status.EMBEDDED})

# KEYS[1] record; ARGV: version, status, now. Returns 1 if accepted, 0 if unchanged.
_ACCEPT = """
local version = redis.call('HGET', KEYS[1], 'version')
local status = redis.call('HGET', KEYS[1], 'status')
if version == ARGV[1] and status ~= 'failed' and status ~= 'deleted' then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'status', ARGV[2], 'chunks', 0, 'error', '',
           'accepted_at', ARGV[3], 'updated_at', ARGV[3])
redis.call('HSETNX', KEYS[1], 'created_at', ARGV[3])
return 1
"""

# KEYS[1] record; ARGV: version, allowed statuses (comma-joined), then field/value pairs.
_TRANSITION = """
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
if not string.find(',' .. ARGV[2] .. ',', ',' .. status .. ',', 1, true) then return 0 end
for i = 3, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
return 1
"""


class DocumentStore:
    """Reads and updates document records; all writes are atomic Lua scripts or single commands."""

    def __init__(self, redis: Redis, prefix: str = "sluice") -> None:
        self.redis = redis
        self.prefix = prefix
        self._accept = redis.register_script(_ACCEPT)
        self._transition = redis.register_script(_TRANSITION)

    def key(self, tenant: str, doc_id: str) -> str:
        """The record's Redis key."""
        return f"{self.prefix}:doc:{tenant}:{doc_id}"

    def accept(self, tenant: str, doc_id: str, version: str) -> bool:
        """Make `version` current and `accepted`; False if it already is (or is on its way)."""
        accepted = self._accept(
            keys=[self.key(tenant, doc_id)], args=[version, Status.ACCEPTED, now_iso()]
        )
        return bool(accepted)

    def get(self, tenant: str, doc_id: str) -> dict[str, Any] | None:
        """The record as a dict, or None if the document is unknown."""
        raw: dict[bytes, bytes] = self.redis.hgetall(self.key(tenant, doc_id))  # type: ignore[assignment]
        if not raw:
            return None
        record: dict[str, Any] = {k.decode(): v.decode() for k, v in raw.items()}
        record["chunks"] = int(record.get("chunks") or 0)
        record["error"] = record.get("error") or None
        return {"id": doc_id, "tenant": tenant, **record}

    def transition(
        self,
        tenant: str,
        doc_id: str,
        version: str,
        status: Status,
        allowed_from: Iterable[Status],
        **fields: Any,
    ) -> bool:
        """Set `status` (and fields) if `version` is current and its status in `allowed_from`."""
        args: list[Any] = [
            version,
            ",".join(allowed_from),
            "status",
            status,
            "updated_at",
            now_iso(),
        ]
        for name, value in fields.items():
            args += [name, "" if value is None else value]
        return bool(self._transition(keys=[self.key(tenant, doc_id)], args=args))

    def mark_deleted(self, tenant: str, doc_id: str) -> bool:
        """Mark a known document deleted; False if it is unknown."""
        key = self.key(tenant, doc_id)
        if not self.redis.exists(key):
            return False
        self.redis.hset(
            key,
            mapping={"status": Status.DELETED, "updated_at": now_iso(), "chunks": 0, "error": ""},
        )
        return True

    # Versions written to Milvus, so superseded chunks can be deleted by id (cheap) later.
    def _written_key(self, tenant: str, doc_id: str) -> str:
        return f"{self.key(tenant, doc_id)}:written"

    def record_written(self, tenant: str, doc_id: str, version: str, chunks: int) -> None:
        """Note, before writing, that `version` has `chunks` chunks in Milvus."""
        self.redis.hset(self._written_key(tenant, doc_id), version, chunks)

    def written_versions(self, tenant: str, doc_id: str) -> dict[str, int]:
        """Every version that may have chunks in Milvus, with its chunk count."""
        raw: dict[bytes, bytes] = self.redis.hgetall(self._written_key(tenant, doc_id))  # type: ignore[assignment]
        return {k.decode(): int(v) for k, v in raw.items()}

    def forget_written(self, tenant: str, doc_id: str, versions: Iterable[str]) -> None:
        """Forget versions whose chunks have been deleted."""
        names = list(versions)
        if names:
            self.redis.hdel(self._written_key(tenant, doc_id), *names)

    def lock(self, tenant: str, doc_id: str, timeout: int) -> Lock:
        """A Redis lock serialising index writes for one document across processes."""
        return self.redis.lock(  # type: ignore[no-any-return]
            f"{self.key(tenant, doc_id)}:lock", timeout=timeout, blocking_timeout=timeout
        )
