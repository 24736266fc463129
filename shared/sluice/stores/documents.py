"""Document records in Redis: status, current version, chunk count, error; compare-and-set updates.

A record is one hash per (tenant, document id). Every status change names the version it is
about and is applied only while that version is still the document's current one, so a late
event about an older version can never overwrite the state of a newer one.

Keys: `<prefix>:<kind>:<tenant>:<document id>`, one kind per purpose (`doc` the record,
`written` the versions that may have chunks in Milvus, `lock` the index-write lock, `source`
the accepted version while it is in flight). A tenant has no `:` and the id comes last, so no id
of any tenant can name, read or block a key of another kind or another document
(`doc:t:victim:lock` is the record of document `victim:lock`, never the lock of `victim`).

The in-flight ledger: accepting a version writes, in the same atomic script, the record, the
version's source (the `document.accepted` payload) and an entry of `<prefix>:inflight` (a sorted
set of `<tenant>:<id>` by the time of the last progress). Each pipeline step moves the entry's
time on; reaching `indexed`, `failed` or `deleted` removes it with the source. So a version
whose delivery was lost (ingest killed between accepting and publishing, a queue lost with
Redis) stays in the ledger, and the reconciler publishes it again from its source.
"""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Iterable, Iterator, Sequence
from contextlib import contextmanager, suppress
from typing import Any, cast

from redis import Redis
from redis.exceptions import LockError, RedisError
from redis.lock import Lock

from sluice.events import DocumentAccepted, now_iso
from sluice.lifecycle import ACCEPTED_AGAIN_FROM, FINAL, DocumentRecord, Status, Transition

log = logging.getLogger(__name__)

DocRef = tuple[str, str]
"""A document's (tenant, id)."""


# KEYS: record, ledger, source; ARGV: version, status, now, embedder, the statuses that accept
# the same version again (comma-joined), ledger member, now (epoch seconds), source. Returns 1 if
# accepted, 0 if unchanged: the version is current and on its way, or indexed by the same
# embedder.
_ACCEPT = """
local version = redis.call('HGET', KEYS[1], 'version')
local status = redis.call('HGET', KEYS[1], 'status')
local again = string.find(',' .. ARGV[5] .. ',', ',' .. tostring(status) .. ',', 1, true)
if version == ARGV[1] and not again and (status ~= 'indexed'
    or redis.call('HGET', KEYS[1], 'embedder') == ARGV[4]) then return 0 end
redis.call('HSET', KEYS[1], 'version', ARGV[1], 'status', ARGV[2], 'chunks', 0, 'error', '',
           'accepted_at', ARGV[3], 'updated_at', ARGV[3])
redis.call('HSETNX', KEYS[1], 'created_at', ARGV[3])
redis.call('ZADD', KEYS[2], ARGV[7], ARGV[6])
redis.call('SET', KEYS[3], ARGV[8])
return 1
"""

# KEYS: record, ledger, source; ARGV: version, allowed statuses (comma-joined), ledger member,
# now (epoch seconds), 1 if the new status is final (else 0), then field/value pairs.
_TRANSITION = """
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
if not string.find(',' .. ARGV[2] .. ',', ',' .. status .. ',', 1, true) then return 0 end
for i = 6, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[5] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('DEL', KEYS[3])
else
  redis.call('ZADD', KEYS[2], 'XX', ARGV[4], ARGV[3])
end
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

    def accept_many(self, sources: Sequence[DocumentAccepted], embedder: str) -> list[bool]:
        """For each accepted version (`DocumentAccepted`, its source): make it current,
        `accepted` and in flight, with its source; False where it already is current (on its
        way, or indexed by `embedder`, an identity key; a document indexed by another is
        accepted again, so that resubmitting re-embeds it)."""
        now, epoch = now_iso(), time.time()
        with self.redis.pipeline(transaction=False) as pipe:
            for source in sources:
                self._accept(
                    keys=self._version_keys(source.tenant, source.id),
                    args=[
                        source.version,
                        Status.ACCEPTED,
                        now,
                        embedder,
                        ",".join(ACCEPTED_AGAIN_FROM),
                        _member(source.tenant, source.id),
                        epoch,
                        source.model_dump_json(),
                    ],
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
        now, epoch = now_iso(), time.time()
        with self.redis.pipeline(transaction=False) as pipe:
            for change in changes:
                args: list[Any] = [
                    change.version,
                    ",".join(change.allowed_from),
                    _member(change.tenant, change.doc_id),
                    epoch,
                    "1" if change.status in FINAL else "0",
                    "status",
                    change.status,
                    "updated_at",
                    now,
                ]
                for name, value in change.fields.items():
                    args += [name, "" if value is None else value]
                self._transition(
                    keys=self._version_keys(change.tenant, change.doc_id), args=args, client=pipe
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
        with self.redis.pipeline() as pipe:  # MULTI: record and ledger together
            pipe.hset(
                key,
                mapping={
                    "status": Status.DELETED,
                    "updated_at": now_iso(),
                    "chunks": 0,
                    "error": "",
                },
            )
            self._leave_ledger(pipe, tenant, doc_id)
            pipe.execute()
        return True

    # The in-flight ledger (see the module's docstring).
    def stalled(self, since: float, limit: int = 1000) -> list[DocRef]:
        """Documents in flight whose last progress is older than `since` (epoch seconds)."""
        members = cast(
            list[bytes], self.redis.zrangebyscore(self._ledger, 0, since, start=0, num=limit)
        )
        return [_ref(member.decode()) for member in members]

    def source(self, tenant: str, doc_id: str) -> DocumentAccepted | None:
        """The source of the version in flight, or None."""
        raw = self.redis.get(self.key(tenant, doc_id, "source"))
        return None if raw is None else DocumentAccepted.model_validate_json(raw)

    def progressed(self, refs: Sequence[DocRef]) -> None:
        """Move the ledger time of documents still in flight on to now (republished)."""
        epoch = time.time()
        with self.redis.pipeline(transaction=False) as pipe:
            for tenant, doc_id in refs:
                pipe.zadd(self._ledger, {_member(tenant, doc_id): epoch}, xx=True)
            pipe.execute()

    def forget_in_flight(self, refs: Sequence[DocRef]) -> None:
        """Take documents out of the ledger (their record says they are not in flight)."""
        with self.redis.pipeline(transaction=False) as pipe:
            for tenant, doc_id in refs:
                self._leave_ledger(pipe, tenant, doc_id)
            pipe.execute()

    def in_flight_count(self) -> int:
        """How many document versions are in flight."""
        return int(self.redis.zcard(self._ledger))

    @property
    def _ledger(self) -> str:
        return f"{self.prefix}:inflight"

    def _version_keys(self, tenant: str, doc_id: str) -> list[str]:
        return [self.key(tenant, doc_id), self._ledger, self.key(tenant, doc_id, "source")]

    def _leave_ledger(self, pipe: Any, tenant: str, doc_id: str) -> None:
        pipe.zrem(self._ledger, _member(tenant, doc_id))
        pipe.delete(self.key(tenant, doc_id, "source"))

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
                lock = self.redis.lock(key, timeout=ttl, blocking_timeout=wait, thread_local=False)
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


def _member(tenant: str, doc_id: str) -> str:
    """A document's member of the ledger (a tenant has no ':')."""
    return f"{tenant}:{doc_id}"


def _ref(member: str) -> DocRef:
    tenant, _, doc_id = member.partition(":")
    return tenant, doc_id


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
