"""Document records in Redis: status, current version, chunk count, error; compare-and-set updates.

A record is one hash per (tenant, document id). Every status change names the version it is
about and is applied only while that version is still the document's current one, so a late
event about an older version can never overwrite the state of a newer one.

Keys: `<prefix>:<kind>:<tenant>:<document id>`, one kind per purpose (`doc` the record,
`written` the versions that may have chunks in Milvus, `lock` the index-write lock, `source`
the accepted version while it is in flight). A tenant has no `:` and the id comes last, so no id
of any tenant can name, read or block a key of another kind or another document
(`doc:t:victim:lock` is the record of document `victim:lock`, never the lock of `victim`).

The listing indexes, per tenant (so a tenant's listing never reads another's): `docs:<tenant>`,
a sorted set of every document id of the tenant, and `status:<tenant>:<status>`, one per
stored status (`STORED_STATUSES`), each holding the ids whose record has that status. Every
score is 0, so a set is ordered by id (bytewise) and read with ZRANGEBYLEX. `docs` and `status`
are kinds of their own, never a per-document kind, and a tenant has no `:`, so these keys
cannot be a document's key nor another tenant's index; a document id is only ever a member.
They are written by the same Lua scripts that write the record (accept, transition, delete),
so an index never disagrees with the records; `backfill_index` (`sluice documents reindex`)
builds them for records written before they existed.

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
from dataclasses import dataclass
from typing import Any, TypeVar, cast

from redis import Redis
from redis.exceptions import LockError, RedisError
from redis.lock import Lock

from sluice.events import TENANT_PATTERN, DocumentAccepted, is_valid_id, now_iso
from sluice.lifecycle import ACCEPTED_AGAIN_FROM, FINAL, DocumentRecord, Status, Transition

log = logging.getLogger(__name__)

DocRef = tuple[str, str]
"""A document's (tenant, id)."""
T = TypeVar("T")


STORED_STATUSES: tuple[Status, ...] = tuple(s for s in Status if s is not Status.UNCHANGED)
"""The statuses a record can have (each has its listing index)."""

# Every script takes the keys of `DocumentStore._version_keys`: KEYS[1] the record, KEYS[2]
# the ledger, KEYS[3] the source, KEYS[4] the tenant's set of every id, KEYS[5..] its set per
# status, in STORED_STATUSES's order. `place` files the id under its status, and only there
# (under none, and out of the set of every id, if the status is false: no record).
_STATUS_NAMES = ", ".join(f"'{status}'" for status in STORED_STATUSES)
_PLACE = (
    f"local STATUSES = {{{_STATUS_NAMES}}}\n"
    + """
local function place(id, status)
  for i, name in ipairs(STATUSES) do
    if name == status then redis.call('ZADD', KEYS[4 + i], 0, id)
    else redis.call('ZREM', KEYS[4 + i], id) end
  end
  if status then redis.call('ZADD', KEYS[4], 0, id) else redis.call('ZREM', KEYS[4], id) end
end
"""
)

# ARGV: version, status, now, embedder, the statuses that accept the same version again
# (comma-joined), ledger member, now (epoch seconds), source, document id. Returns 1 if
# accepted, 0 if unchanged: the version is current and on its way, or indexed by the same
# embedder.
_ACCEPT = (
    _PLACE
    + """
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
place(ARGV[9], ARGV[2])
return 1
"""
)

# ARGV: version, allowed statuses (comma-joined), ledger member, now (epoch seconds), 1 if the
# new status is final (else 0), document id, the new status, then other field/value pairs.
_TRANSITION = (
    _PLACE
    + """
if redis.call('HGET', KEYS[1], 'version') ~= ARGV[1] then return 0 end
local status = redis.call('HGET', KEYS[1], 'status')
if not string.find(',' .. ARGV[2] .. ',', ',' .. status .. ',', 1, true) then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[7])
for i = 8, #ARGV, 2 do redis.call('HSET', KEYS[1], ARGV[i], ARGV[i + 1]) end
if ARGV[5] == '1' then
  redis.call('ZREM', KEYS[2], ARGV[3])
  redis.call('DEL', KEYS[3])
else
  redis.call('ZADD', KEYS[2], 'XX', ARGV[4], ARGV[3])
end
place(ARGV[6], ARGV[7])
return 1
"""
)

# ARGV: ledger member, now, document id. Returns 0 if there is no record.
_DELETE = (
    _PLACE
    + """
if redis.call('EXISTS', KEYS[1]) == 0 then return 0 end
redis.call('HSET', KEYS[1], 'status', 'deleted', 'updated_at', ARGV[2], 'chunks', 0, 'error', '')
redis.call('ZREM', KEYS[2], ARGV[1])
redis.call('DEL', KEYS[3])
place(ARGV[3], 'deleted')
return 1
"""
)

# ARGV: document id. Files the id as its record says (or out of every set without a record);
# returns 1 if there is a record with a status.
_REINDEX = (
    _PLACE
    + """
local status = redis.call('HGET', KEYS[1], 'status')
place(ARGV[1], status)
if status then return 1 end
return 0
"""
)


@dataclass(frozen=True)
class Backfill:
    """What `DocumentStore.backfill_index` did."""

    filed: int
    """Records filed in the indexes (all of them)."""
    dropped: int
    """Index entries dropped: their record was gone."""


@dataclass(frozen=True)
class DocumentPage:
    """A page of a tenant's records, in id order (see `DocumentStore.page`)."""

    records: list[DocumentRecord]
    last_id: str | None
    """The id to continue after, when more ids follow; None on the last page."""
    total: int
    """How many ids the filter (status, prefix) matches, all pages together."""


class DocumentStore:
    """Reads and updates document records. Writes are atomic Lua scripts; operations on many
    documents go to Redis in one pipeline."""

    def __init__(self, redis: Redis, prefix: str = "sluice") -> None:
        self.redis = redis
        self.prefix = prefix
        self._accept = redis.register_script(_ACCEPT)
        self._transition = redis.register_script(_TRANSITION)
        self._delete = redis.register_script(_DELETE)
        self._reindex = redis.register_script(_REINDEX)

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
                        source.id,
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
                    change.doc_id,
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
        """Mark a known document deleted (record, ledger and indexes in one script); False if
        it is unknown."""
        done = self._delete(
            keys=self._version_keys(tenant, doc_id),
            args=[_member(tenant, doc_id), now_iso(), doc_id],
        )
        return bool(done)

    # The listing indexes (see the module's docstring).
    def index_key(self, tenant: str, status: Status | None = None) -> str:
        """The tenant's set of every document id, or of those with `status`."""
        if status is None:
            return f"{self.prefix}:docs:{tenant}"
        return f"{self.prefix}:status:{tenant}:{status}"

    def page(
        self,
        tenant: str,
        *,
        status: Status | None = None,
        prefix: str = "",
        after: str | None = None,
        limit: int = 20,
    ) -> DocumentPage:
        """The tenant's records in id order: those with `status` (any if None) whose id starts
        with `prefix`, the first `limit` after the id `after` (exclusive).

        The ids come from the index (ZRANGEBYLEX, with the filter's count, in one MULTI), then
        the page's records in one pipeline. An id whose record has vanished, or (with a status
        filter) whose record has moved to another status between the two reads, is left out of
        the page; the paging goes on after it all the same."""
        key = self.index_key(tenant, status)
        low, high = _lex_range(prefix)
        start = low
        if after is not None and after.encode() >= prefix.encode():
            start = b"(" + after.encode()
        with self.redis.pipeline(transaction=True) as pipe:
            pipe.zrangebylex(key, start, high, start=0, num=limit + 1)
            pipe.zlexcount(key, low, high)
            found, total = pipe.execute()
        members = cast(list[bytes], found)
        ids = [member.decode("utf-8", "replace") for member in members[:limit]]
        records = [
            record
            for record in self.get_many([(tenant, doc_id) for doc_id in ids])
            if record is not None and (status is None or record.status == status)
        ]
        more = len(members) > limit
        return DocumentPage(records, ids[-1] if more else None, int(total))

    def refs(self, batch: int = 1000) -> Iterator[DocRef]:
        """Every document that has a record (SCAN: each one present throughout is listed, at
        least once; the models function's copy of every document starts from this)."""
        pattern = _glob_escape(self.prefix)
        head = f"{self.prefix}:doc:".encode()
        for key in self.redis.scan_iter(match=pattern + ":doc:*", count=batch):
            if (ref := _key_ref(cast(bytes, key), head)) is not None:
                yield ref

    def backfill_index(self, batch: int = 1000) -> Backfill:
        """File every record in the listing indexes, and drop the index entries whose record
        is gone: idempotent, and safe while the pipeline runs (each document is filed by one
        script, as its record is at that moment). A one-off maintenance step, for records
        written before the indexes existed (`sluice documents reindex`): it SCANs every record
        key and every tenant's index, which no request ever does."""
        pattern = _glob_escape(self.prefix)
        head = f"{self.prefix}:doc:".encode()
        records = (
            ref
            for key in self.redis.scan_iter(match=pattern + ":doc:*", count=batch)
            if (ref := _key_ref(cast(bytes, key), head)) is not None
        )
        filed = sum(self._reindex_many(refs) for refs in _batched(records, batch))
        entries = self._index_entries(pattern, batch)
        dropped = sum(self._reindex_many(refs, dropped=True) for refs in _batched(entries, batch))
        return Backfill(filed, dropped)

    def _index_entries(self, pattern: str, batch: int) -> Iterator[DocRef]:
        """Every (tenant, id) of every tenant's set of every id."""
        head = f"{self.prefix}:docs:".encode()
        for key in self.redis.scan_iter(match=pattern + ":docs:*", count=batch):
            tenant = cast(bytes, key)[len(head) :].decode("utf-8", "replace")
            if is_valid_id(tenant, TENANT_PATTERN):
                for member, _ in self.redis.zscan_iter(key, count=batch):
                    yield tenant, cast(bytes, member).decode("utf-8", "replace")

    def _reindex_many(self, refs: Sequence[DocRef], *, dropped: bool = False) -> int:
        """File the documents as their records say; how many had a record (or, `dropped`,
        how many had none)."""
        if not refs:
            return 0
        with self.redis.pipeline(transaction=False) as pipe:
            for tenant, doc_id in refs:
                self._reindex(keys=self._version_keys(tenant, doc_id), args=[doc_id], client=pipe)
            results = pipe.execute(raise_on_error=False)  # a key of another type: not a record
        return sum(1 for result in results if result == (0 if dropped else 1))

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
        """The keys every script takes (see `_PLACE`)."""
        return [
            self.key(tenant, doc_id),
            self._ledger,
            self.key(tenant, doc_id, "source"),
            self.index_key(tenant),
            *(self.index_key(tenant, status) for status in STORED_STATUSES),
        ]

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


def _lex_range(prefix: str) -> tuple[bytes, bytes]:
    """ZRANGEBYLEX bounds of the ids starting with `prefix` (every id if empty). The upper
    bound, exclusive, is the prefix followed by byte 0xff, which no UTF-8 text contains: so
    every id that starts with the prefix sorts below it, and no other id between the bounds."""
    if not prefix:
        return b"-", b"+"
    encoded = prefix.encode()
    return b"[" + encoded, b"(" + encoded + b"\xff"


def _batched(items: Iterable[T], size: int) -> Iterator[list[T]]:
    """The items in lists of `size` (the last one shorter)."""
    batch: list[T] = []
    for item in items:
        batch.append(item)
        if len(batch) >= size:
            yield batch
            batch = []
    if batch:
        yield batch


def _glob_escape(text: str) -> str:
    """`text` as a literal in a SCAN pattern."""
    return "".join("\\" + c if c in "*?[]\\^" else c for c in text)


def _key_ref(key: bytes, head: bytes) -> DocRef | None:
    """The (tenant, id) of a record key (`head` is `<prefix>:doc:`), or None if it is not one
    of ours."""
    tenant, colon, doc_id = key[len(head) :].partition(b":")
    if not key.startswith(head) or not colon or not tenant or not doc_id:
        return None
    try:
        ref = tenant.decode(), doc_id.decode()
    except UnicodeDecodeError:
        return None
    return ref if is_valid_id(ref[0], TENANT_PATTERN) else None


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
