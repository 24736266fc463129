"""Which model the pipeline embeds with, and the model change in progress (Redis).

The state is one JSON document, `<prefix>:models:state`: the `active` collection (the one the
alias `milvus.collection` points to, and the embedder of its vectors) and, during and after a
model change, the `other` one, kept in step beside it:

- phase `building`: `other` is the new model's collection, being filled by the models
  function (`sluice models migrate`); `ready` once every document is in it;
- phase `previous`: the switch happened; `other` is the old model's collection, kept in step
  for `sluice models rollback` until `sluice models drop-old`.

Until the first model change there is no state and the settings' embedder is active (the
first process that needs the state writes it). Index writes each document version into the
collection of the embedder that made its vectors and files the document as *pending* for
every other collection (`<prefix>:models:pending:<collection>`, a set); the models function
copies pending documents across, re-embedding their chunks (docs/models.md).
"""

from __future__ import annotations

import json
import time
from collections.abc import Iterable, Sequence
from typing import Literal, cast

from pydantic import BaseModel, ConfigDict, Field
from redis import Redis

from sluice.embedders.identity import EmbedderIdentity
from sluice.stores.documents import DocRef

Phase = Literal["building", "ready", "previous"]


# Compare-and-set of the state on its revision (no state yet: revision 0).
_REPLACE = """
local raw = redis.call('GET', KEYS[1])
local revision = 0
if raw then revision = cjson.decode(raw)['revision'] end
if revision ~= tonumber(ARGV[1]) then return 0 end
redis.call('SET', KEYS[1], ARGV[2])
return 1
"""


class Served(BaseModel):
    """A chunk collection and the embedder of its vectors."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    collection: str
    embedder: EmbedderIdentity


class GateQuery(BaseModel):
    """A query of the quality gate and the documents that answer it."""

    model_config = ConfigDict(extra="forbid")

    query: str = Field(min_length=1, max_length=2000)
    relevant: list[str] = Field(min_length=1, max_length=1000)
    tenant: str = Field(min_length=1, max_length=64)


class Gate(BaseModel):
    """The quality gate of a switch: dense nDCG@10 of the new model on these queries must
    reach `min_ndcg`, or (when it is None) the old model's less `tolerance`."""

    model_config = ConfigDict(extra="forbid")

    queries: list[GateQuery] = Field(min_length=1, max_length=2000)
    min_ndcg: float | None = Field(None, ge=0, le=1)
    tolerance: float = Field(0.01, ge=0, le=1)


class ModelState(BaseModel):
    """The active collection, the other one beside it and where the change between them is."""

    model_config = ConfigDict(extra="forbid")

    active: Served
    other: Served | None = None
    phase: Phase | None = None
    enumerated: bool = False  # every document of `active` filed as pending for `other`
    switch_when_ready: bool = True
    gate: Gate | None = None
    gate_result: dict[str, float | bool] | None = None
    message: str = ""  # why the switch waits or was refused
    started_at: float = 0.0
    switched_at: float = 0.0
    revision: int = 0

    def served(self) -> list[Served]:
        """Every collection kept up to date: the active one first."""
        return [self.active] if self.other is None else [self.active, self.other]

    def serving(self, identity: EmbedderIdentity) -> Served | None:
        """The collection of the embedder's vectors, if one is kept."""
        return next((s for s in self.served() if s.embedder == identity), None)


class ModelStates:
    """The model state and the pending documents, in Redis."""

    def __init__(self, redis: Redis, prefix: str = "sluice") -> None:
        self.redis = redis
        self.prefix = prefix
        self.key = f"{prefix}:models:state"
        self._replace = redis.register_script(_REPLACE)

    def get(self, default: Served) -> ModelState:
        """The state; with none recorded, `default` active and nothing else (not written)."""
        raw = self.redis.get(self.key)
        if raw is None:
            return ModelState(active=default)
        return ModelState.model_validate_json(raw)

    def active_embedder(self, default: EmbedderIdentity) -> EmbedderIdentity:
        """The embedder of the active collection (`default` until the first model change):
        what transform embeds new versions with."""
        raw = self.redis.get(self.key)
        if raw is None:
            return default
        return ModelState.model_validate_json(raw).active.embedder

    def get_or_create(self, default: Served) -> tuple[ModelState, bool]:
        """The state, written with `default` active if there was none (and whether it was)."""
        created = bool(
            self.redis.set(self.key, ModelState(active=default).model_dump_json(), nx=True)
        )
        return self.get(default), created

    def replace(self, old: ModelState, new: ModelState) -> bool:
        """Write `new` if the state is still `old` (same revision); False if it changed."""
        new.revision = old.revision + 1
        return bool(self._replace(keys=[self.key], args=[old.revision, new.model_dump_json()]))

    def pending_key(self, collection: str) -> str:
        """The set of documents waiting to be copied into `collection`."""
        return f"{self.prefix}:models:pending:{collection}"

    def progress_key(self, collection: str) -> str:
        """How many documents were copied into `collection`, and since when."""
        return f"{self.prefix}:models:progress:{collection}"

    def add_pending(self, collections: Iterable[str], refs: Sequence[DocRef]) -> None:
        """File documents as waiting to be copied into each collection."""
        members = [_member(ref) for ref in refs]
        if not members:
            return
        with self.redis.pipeline(transaction=False) as pipe:
            for collection in collections:
                pipe.sadd(self.pending_key(collection), *members)
            pipe.execute()

    def pending(self, collection: str, count: int) -> list[DocRef]:
        """Up to `count` documents waiting for `collection` (they stay filed until `done`)."""
        members = cast(list[bytes], self.redis.srandmember(self.pending_key(collection), count))
        return sorted(_ref(m) for m in members or [])

    def pending_count(self, collection: str) -> int:
        """How many documents wait for `collection`."""
        return int(self.redis.scard(self.pending_key(collection)))

    def done(self, collection: str, refs: Sequence[DocRef]) -> None:
        """Documents copied into `collection`: no longer pending, counted."""
        if not refs:
            return
        with self.redis.pipeline(transaction=False) as pipe:
            pipe.srem(self.pending_key(collection), *[_member(ref) for ref in refs])
            pipe.hincrby(self.progress_key(collection), "done", len(refs))
            pipe.hsetnx(self.progress_key(collection), "since", time.time())
            pipe.execute()

    def progress(self, collection: str) -> tuple[int, float]:
        """Documents copied into `collection` so far, and since when (epoch seconds, 0: none)."""
        done, since = self.redis.hmget(self.progress_key(collection), "done", "since")
        return int(done or 0), float(since or 0)

    def forget(self, collection: str) -> None:
        """Drop a collection's pending set and progress (it was dropped)."""
        self.redis.delete(self.pending_key(collection), self.progress_key(collection))


def _member(ref: DocRef) -> str:
    return json.dumps(list(ref), separators=(",", ":"))


def _ref(member: bytes | str) -> DocRef:
    tenant, doc_id = json.loads(member)
    return str(tenant), str(doc_id)
