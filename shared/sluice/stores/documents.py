"""Document records in Redis: status, current version, chunk count, error; compare-and-set updates.

A record is one hash per (tenant, document id). Every status change names the version it is
about and is applied only while that version is still the document's current one, so a late
event about an older version can never overwrite the state of a newer one.

Keys: `<prefix>:<kind>:<tenant>:<document id>`, one kind per purpose (`doc` the record,
`written` the versions that may have chunks in Milvus, `lock` the index-write lock). A tenant
has no `:` and the id comes last, so no id of any tenant can name, read or block a key of
another kind or another document (`doc:t:victim:lock` is the record of document `victim:lock`,
never the lock of `victim`).
"""

from __future__ import annotations

import logging
import threading
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any

from redis import Redis
from redis.exceptions import LockError, RedisError
from redis.lock import Lock

from sluice.events import now_iso
from sluice.lifecycle import ACCEPTED_AGAIN_FROM, DocumentRecord, Status, Transition

log = logging.getLogger(__name__)

DocRef = tuple[str, str]
"""A document's (tenant, id)."""


# KEYS[1] record; ARGV: version, status, now, embedder, the statuses that accept the same version
# again (comma-joined). Returns 1 if accepted, 0 if unchanged: the version is current and on its
# way, or indexed by the same embedder.
_ACCEPT = """
local version = redis.call('HGET', KEYS[1], 'version')
local status = redis.call('HGET', KEYS[1], 'status')
local again = string.find(',' .. ARGV[5] .. ',', ',' .. tostring(status) .. ',', 1, true)
if version == ARGV[1] and not again and (status ~= 'indexed'
    or redis.call('HGET', KEYS[1], 'embedder') == ARGV[4]) then return 0 end
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
    """Reads and updates document records. Writes are atomic Lua scripts; operations on many
    documents go to Redis in one pipeline."""

    def __init__(self, redis: Redis, prefix: str = "sluice") -> None:
        self.redis = redis
        self.prefix = prefix
        self._accept = redis.register_script(_ACCEPT)
        self._transition = redis.register_script(_TRANSITION)

    def key(self, tenant: str, doc_id: str, kind: str = "doc") -> str:
        """The Redis key of a document's record (or of its `written` versions, its `lock`)."""
        return f"{self.prefix}:{kind}:{tenant}:{doc_id}"

    def accept_many(self, versions: Sequence[tuple[str, str, str]], embedder: str) -> list[bool]:
        """For each (tenant, id, version): make the version current and `accepted`; False
        where it already is current (on its way, or indexed by `embedder`, an identity as
        `EmbedderSettings.identity()` gives; a document indexed by another is accepted again,
        so that resubmitting re-embeds it)."""
        now = now_iso()
        with self.redis.pipeline(transaction=False) as pipe:
            for tenant, doc_id, version in versions:
                self._accept(
                    keys=[self.key(tenant, doc_id)],
                    args=[version, Status.ACCEPTED, now, embedder, ",".join(ACCEPTED_AGAIN_FROM)],
                    client=pipe,
                )
            return [bool(result) for result in pipe.execute()]

    def get(self, tenant: str, doc_id: str) -> DocumentRecord | None:
        """The record, or None if the document is unknown."""
        return self.get_many([(tenant, doc_id)])[0]

    def get_many(self, refs: Sequence[DocRef]) -> list[DocumentRecord | None]:
        """The records of several documents (None for unknown ones)."""
        with self.redis.pipeline(transaction=False) as pipe:
            for tenant, doc_id in refs:
                pipe.hgetall(self.key(tenant, doc_id))
            raws: list[dict[bytes, bytes]] = pipe.execute()
        return [_record(ref, raw) for ref, raw in zip(refs, raws, strict=True)]

    def transition_many(self, changes: Sequence[Transition]) -> list[bool]:
        """Apply status changes, each atomically (see `sluice.lifecycle`); one result per change:
        whether it applied."""
        now = now_iso()
        with self.redis.pipeline(transaction=False) as pipe:
            for change in changes:
                args: list[Any] = [
                    change.version,
                    ",".join(change.allowed_from),
                    "status",
                    change.status,
                    "updated_at",
                    now,
                ]
                for name, value in change.fields.items():
                    args += [name, "" if value is None else value]
                self._transition(
                    keys=[self.key(change.tenant, change.doc_id)], args=args, client=pipe
                )
            return [bool(result) for result in pipe.execute()]

    def mark_failed(self, versions: Sequence[tuple[str, str, str]], reason: str) -> int:
        """Mark (tenant, id, version)s failed with the reason, where they are still current and
        in flight; how many were."""
        error = reason[:2000]
        changes = [Transition(t, d, v, Status.FAILED, {"error": error}) for t, d, v in versions]
        return sum(self.transition_many(changes))

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

    # Versions that may have rows in Milvus, with their chunk counts, so that superseded
    # chunks can be deleted by primary key (cheap) instead of by a filter scan.
    def _written_key(self, tenant: str, doc_id: str) -> str:
        return self.key(tenant, doc_id, "written")

    def record_written(self, written: Sequence[tuple[str, str, str, int]]) -> None:
        """Note, before writing them, (tenant, id, version, chunk count) going to Milvus."""
        with self.redis.pipeline(transaction=False) as pipe:
            for tenant, doc_id, version, chunks in written:
                pipe.hset(self._written_key(tenant, doc_id), version, chunks)
            pipe.execute()

    def written_versions(self, refs: Sequence[DocRef]) -> list[dict[str, int]]:
        """For each document, every version that may have chunks in Milvus."""
        with self.redis.pipeline(transaction=False) as pipe:
            for tenant, doc_id in refs:
                pipe.hgetall(self._written_key(tenant, doc_id))
            raws: list[dict[bytes, bytes]] = pipe.execute()
        return [{k.decode(): int(v) for k, v in raw.items()} for raw in raws]

    def forget_written(self, forgotten: Sequence[tuple[str, str, Sequence[str]]]) -> None:
        """Forget (tenant, id, versions) whose chunks have been deleted."""
        with self.redis.pipeline(transaction=False) as pipe:
            for tenant, doc_id, versions in forgotten:
                if versions:
                    pipe.hdel(self._written_key(tenant, doc_id), *versions)
            pipe.execute()

    @contextmanager
    def locked(self, refs: Iterable[DocRef], wait: float, ttl: float = 10.0) -> Iterator[None]:
        """Hold the index-write locks of several documents (taken in key order, so two
        holders never wait on each other), waiting at most `wait` seconds for a busy one
        (LockError then). A lock lives `ttl` seconds and a thread renews it while the block
        runs, so the locks of a holder that dies are free again `ttl` seconds later."""
        keys = sorted({self.key(tenant, doc_id, "lock") for tenant, doc_id in refs})
        held: list[Lock] = []
        done = threading.Event()
        keeper = threading.Thread(target=_renew, args=(held, ttl, done), daemon=True)
        try:
            for key in keys:
                # not thread-local: the renewing thread must see the token
                lock = self.redis.lock(
                    key, timeout=ttl, blocking_timeout=wait, thread_local=False
                )
                if not lock.acquire():
                    raise LockError(f"{key} is still held after {wait:.0f} s")
                held.append(lock)
            keeper.start()
            yield
        finally:
            done.set()
            if keeper.is_alive():
                keeper.join()
            for lock in held:
                with suppress(LockError):  # expired while held: the holder was too slow
                    lock.release()


def _renew(locks: list[Lock], ttl: float, done: threading.Event) -> None:
    """Extend the locks to `ttl` again, three times per `ttl`, until `done`."""
    while not done.wait(ttl / 3):
        for lock in locks:
            try:
                lock.extend(ttl, replace_ttl=True)
            except (LockError, RedisError) as exc:  # lost: the write will find out
                log.warning("cannot renew the lock %s: %s", lock.name, exc)


def _record(ref: DocRef, raw: dict[bytes, bytes]) -> DocumentRecord | None:
    fields = {k.decode(): v.decode() for k, v in raw.items()}
    if "version" not in fields or "status" not in fields:  # no record (or not one of ours)
        return None
    return DocumentRecord(
        id=ref[1],
        tenant=ref[0],
        version=fields["version"],
        status=Status(fields["status"]),
        chunks=int(fields.get("chunks") or 0),
        error=fields.get("error") or None,
        created_at=fields.get("created_at", ""),
        accepted_at=fields.get("accepted_at", ""),
        updated_at=fields.get("updated_at", ""),
        indexed_at=fields.get("indexed_at") or None,
        embedder=fields.get("embedder") or None,
    )
