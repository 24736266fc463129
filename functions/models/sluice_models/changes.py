"""Model changes without downtime: build the new model's collection beside the live one, keep
both in step, switch the alias atomically, roll back, drop the old one.

`ModelChanges.step` does one unit of the work and is called in a loop by the copier thread
(`copier.py`); the admin API (`api.py`) calls `migrate`, `rollback`, `drop_old` and `status`.
Every change of the model state is made under one Redis lock, so the API and the copier (of any
number of replicas) never race. The state lives in Redis (`sluice.stores.models`) and the copy's
progress too, so a killed process resumes where it stopped: a document leaves the pending set
only once it is in the collection, and copying one again changes nothing.

Where the text comes from: the rows of the collection that holds the document's current
version (its title, section and chunk text, exactly as indexed), not the original document or
file. Chunks keep their ids, pages, sections, metadata and times, so the new collection holds
the same chunks as the old one with other vectors, and a model change never re-reads files or
changes the chunking (docs/models.md).
"""

from __future__ import annotations

import logging
import math
import time
from collections.abc import Iterator
from contextlib import contextmanager, suppress
from typing import Any

from redis.exceptions import LockError

from sluice.chunker import search_text
from sluice.embedders import Embedders, embed_in_batches
from sluice.embedders.catalogue import card
from sluice.errors import ConfigError, Conflict, ValidationFailed
from sluice.lifecycle import DocumentRecord, Status
from sluice.metrics import MIGRATION_COPIED, MIGRATION_DOCUMENTS, MODEL_INFO
from sluice.settings import IndexSettings, ModelsSettings
from sluice.stores.documents import DocRef, DocumentStore
from sluice.stores.milvus import ChunkStores
from sluice.stores.models import Gate, ModelState, ModelStates, Served

log = logging.getLogger(__name__)
IN_FLIGHT = (Status.ACCEPTED, Status.TRANSFORMING, Status.EMBEDDED)


class ModelChanges:
    """The model state's transitions, and the copy between collections."""

    def __init__(
        self,
        states: ModelStates,
        chunks: ChunkStores,
        documents: DocumentStore,
        embedders: Embedders,
        settings: ModelsSettings,
        locks: IndexSettings,
    ) -> None:
        self.states = states
        self.chunks = chunks
        self.documents = documents
        self.embedders = embedders
        self.settings = settings
        self.locks = locks
        self.default = chunks.default(embedders.settings.identity())

    # -- the admin API's operations

    def status(self) -> dict[str, Any]:
        """The state as the admin API, the CLI and the console show it, with the progress."""
        state = self.states.get(self.default)
        answer: dict[str, Any] = {
            "active": _served(state.active),
            "other": _served(state.other) if state.other else None,
            "phase": state.phase,
            "switch_when_ready": state.switch_when_ready,
            "gate": state.gate_result,
            "message": state.message,
        }
        if state.other is not None:
            answer["progress"] = self._progress(state, state.other)
        return answer

    def migrate(self, name: str, gate: Gate | None, switch: bool) -> dict[str, Any]:
        """Start building `name`'s collection; the copier fills it, then switches (`switch`)
        once every document is in it and the gate, if any, is passed."""
        try:
            target_card = card(name, self.embedders.settings.dim)
        except ConfigError as exc:
            raise ValidationFailed(str(exc), code="unknown_model") from exc
        with self._exclusive():
            state, _ = self.states.get_or_create(self.default)
            if state.other is not None:
                raise Conflict(
                    f"{state.other.embedder.name} is already beside {state.active.embedder.name} "
                    f"(phase {state.phase}): finish it, or `sluice models drop-old`",
                    code="model_change_under_way",
                )
            if target_card.identity == state.active.embedder:
                raise Conflict(f"{name} is the active model already", code="model_active")
            try:
                self.embedders.get(target_card.identity).warm()
            except ConfigError as exc:
                raise ValidationFailed(str(exc), code="model_not_built") from exc
            target = self.chunks.default(target_card.identity)
            self.chunks.of(target, create=True)  # now: its dimension and records checked
            self.states.forget(target.collection)
            new = state.model_copy(
                update={
                    "other": target,
                    "phase": "building",
                    "enumerated": False,
                    "switch_when_ready": switch,
                    "gate": gate,
                    "gate_result": None,
                    "message": "",
                    "started_at": time.time(),
                }
            )
            self.states.replace(state, new)
        log.info("model change started", extra={"to": target.embedder.key})
        return self.status()

    def switch(self) -> dict[str, Any]:
        """Switch to the other collection now, if it is ready (the gate is not asked again:
        this is how an operator overrides it)."""
        with self._exclusive():
            state = self.states.get(self.default)
            if state.phase == "building":
                raise Conflict("the new collection is not filled yet", code="model_not_ready")
            if state.phase != "ready" or state.other is None:
                raise Conflict("no model change waits for its switch", code="nothing_to_switch")
            self._switch(state)
        return self.status()

    def rollback(self) -> dict[str, Any]:
        """Switch back to the previous model (kept in step since the switch)."""
        with self._exclusive():
            state = self.states.get(self.default)
            if state.phase != "previous" or state.other is None:
                raise Conflict("there is no previous model to go back to", code="no_previous")
            pending = self.states.pending_count(state.other.collection)
            if pending:
                raise Conflict(
                    f"the previous collection is {pending} documents behind; try again shortly",
                    code="previous_behind",
                )
            self._switch(state)
        return self.status()

    def drop_old(self) -> dict[str, Any]:
        """Drop the collection beside the active one: the previous model's after a switch, or
        the new model's before it (which cancels the change)."""
        with self._exclusive():
            state = self.states.get(self.default)
            if state.other is None:
                raise Conflict("there is only the active collection", code="nothing_to_drop")
            dropped = state.other
            self.states.replace(
                state,
                state.model_copy(
                    update={
                        "other": None,
                        "phase": None,
                        "enumerated": False,
                        "gate": None,
                        "message": "",
                    }
                ),
            )
            self.chunks.of(dropped).drop()
            self.chunks.forget(dropped.collection)
            self.states.forget(dropped.collection)
        log.info("collection dropped", extra={"collection": dropped.collection})
        return self.status()

    # -- the copier's work

    def step(self) -> bool:
        """Do one unit of the change's work; False when there is none."""
        state = self.states.get(self.default)
        self._observe(state)
        if state.other is None:
            return False
        if state.phase == "building" and not state.enumerated:
            self._enumerate(state)
            return True
        for target in (state.other, state.active):
            refs = self.states.pending(target.collection, self.settings.batch_documents)
            if refs:
                self._copy(state, target, refs)
                return True
        if state.phase == "building":
            with self._exclusive():
                current = self.states.get(self.default)
                if current.revision == state.revision:
                    self.states.replace(state, state.model_copy(update={"phase": "ready"}))
            log.info("new collection filled", extra={"collection": state.other.collection})
            return True
        if state.phase == "ready" and state.switch_when_ready:
            result = self._gate(state) if state.gate is not None else None  # slow: unlocked
            with self._exclusive():
                current = self.states.get(self.default)
                if current.revision != state.revision:
                    return True  # changed meanwhile: look again
                if result is not None and not result["passed"]:
                    self._refuse(current, result)
                else:
                    self._switch(current.model_copy(update={"gate_result": result}))
            return True
        return False

    def resume(self) -> None:
        """Finish a switch that a killed process left half done (the alias moved, the state
        not yet)."""
        with self._exclusive():
            state = self.states.get(self.default)
            if state.other is None or not self.chunks.of(state.other).is_aliased():
                return
            log.warning("completing an interrupted switch", extra={"to": state.other.collection})
            self._record_switch(state)

    def _enumerate(self, state: ModelState) -> None:
        """File every document as pending for the new collection (every record: those not
        yet indexed stay pending until they are)."""
        assert state.other is not None
        batch: list[DocRef] = []
        for ref in self.documents.refs():
            batch.append(ref)
            if len(batch) == 1000:
                self.states.add_pending([state.other.collection], batch)
                batch = []
        self.states.add_pending([state.other.collection], batch)
        with self._exclusive():
            current = self.states.get(self.default)
            if current.other == state.other:
                self.states.replace(current, current.model_copy(update={"enumerated": True}))

    def _copy(self, state: ModelState, target: Served, refs: list[DocRef]) -> None:
        """Make the target's rows of the documents those of the collection that holds their
        current version (re-embedded with the target's model), under the documents' locks."""
        store = self.chunks.of(target)
        with self.documents.locked(
            refs, wait=self.locks.lock_timeout_seconds, ttl=self.locks.lock_ttl_seconds
        ):
            state = self.states.get(self.default)
            if target not in state.served():
                return  # dropped meanwhile
            records = self.documents.get_many(refs)
            settled: list[DocRef] = []
            sources: dict[str, list[DocRef]] = {}
            for ref, record in zip(refs, records, strict=True):
                source = self._source_of(state, target, record)
                settled.append(ref)
                if isinstance(source, Served):
                    sources.setdefault(source.collection, []).append(ref)
            wanted: dict[str, dict[str, Any]] = {}
            for served in state.served():
                if served.collection in sources:
                    for row in self.chunks.of(served).rows_of(sources[served.collection]):
                        wanted[row["chunk_id"]] = row
            native = {ref for ref, r in zip(refs, records, strict=True) if _native(target, r)}
            have = store.versions_of([ref for ref in settled if ref not in native])
            store.delete_ids([cid for cid in have if cid not in wanted])
            rows = [row for cid, row in wanted.items() if cid not in have]
            store.upsert(self._embedded(target, rows))
            self.states.done(target.collection, settled)
        MIGRATION_COPIED.inc(len(settled))

    def _source_of(
        self, state: ModelState, target: Served, record: DocumentRecord | None
    ) -> Served | object | None:
        """Where a document's rows come from: the other collection, None (it has none:
        deleted, or failed before it was ever indexed), or _NATIVE: nothing to copy, because
        index wrote its current version into the target itself, or because it was never
        indexed and is on its way (index reads the model state when it writes it, after this
        change began, and files it for the target then)."""
        if record is None or record.status == Status.DELETED:
            return None
        if record.embedder is None:
            return _NATIVE if record.status in IN_FLIGHT else None
        if _native(target, record):
            return _NATIVE
        return next(s for s in state.served() if s != target)

    def _embedded(self, target: Served, rows: list[dict[str, Any]]) -> list[Any]:
        """The rows with the target model's vectors."""
        if not rows:
            return []
        embedder = self.embedders.get(target.embedder)
        texts = [search_text(r["title"], r["text"], r["section"]) for r in rows]
        vectors = embed_in_batches(embedder, texts, self.embedders.settings.batch_size)
        now = int(time.time() * 1000)
        return [
            {**row, "dense": vector, "embedder": target.embedder.key, "indexed_at": now}
            for row, vector in zip(rows, vectors, strict=True)
        ]

    def _switch(self, state: ModelState) -> None:
        """Point the alias at the other collection, then record it (under the lock)."""
        assert state.other is not None
        self.chunks.of(state.other).point_alias()
        self._record_switch(state)

    def _refuse(self, state: ModelState, result: dict[str, Any]) -> None:
        """Record the gate's refusal: the change waits (`switch` overrides, `drop-old`
        cancels)."""
        assert state.other is not None
        message = (
            f"the quality gate refused the switch: nDCG@10 {result['new']:.4f} with "
            f"{state.other.embedder.name}, {result['old']:.4f} with "
            f"{state.active.embedder.name}, at least {result['threshold']:.4f} needed"
        )
        update = {"gate_result": result, "message": message, "switch_when_ready": False}
        self.states.replace(state, state.model_copy(update=update))
        log.warning(message)

    def _record_switch(self, state: ModelState) -> None:
        assert state.other is not None
        switched = state.model_copy(
            update={
                "active": state.other,
                "other": state.active,
                "phase": "previous",
                "message": "",
                "switched_at": time.time(),
            }
        )
        self.states.replace(self.states.get(self.default), switched)
        log.info("switched", extra={"active": state.other.embedder.key})

    def _gate(self, state: ModelState) -> dict[str, Any]:
        """Dense nDCG@10 of the gate's queries on the new collection and on the active one."""
        assert state.other is not None and state.gate is not None
        gate = state.gate
        scores = {}
        for key, served in (("new", state.other), ("old", state.active)):
            embedder = self.embedders.get(served.embedder)
            store = self.chunks.of(served)
            total = 0.0
            for item in gate.queries:
                (vector,) = embedder.embed([item.query], "query")
                ranked = store.nearest_documents(item.tenant, vector, 10)
                total += ndcg_at_10(ranked, set(item.relevant))
            scores[key] = total / len(gate.queries)
        threshold = gate.min_ndcg if gate.min_ndcg is not None else scores["old"] - gate.tolerance
        return {**scores, "threshold": threshold, "passed": scores["new"] >= threshold}

    def _progress(self, state: ModelState, target: Served) -> dict[str, Any]:
        done, since = self.states.progress(target.collection)
        pending = self.states.pending_count(target.collection)
        elapsed = time.time() - since if since else 0.0
        rate = done / elapsed if elapsed > 0 else 0.0
        return {
            "done": done,
            "pending": pending,
            "total": done + pending,
            "listed": state.enumerated or state.phase != "building",
            "rate_per_second": round(rate, 2),
            "eta_seconds": round(pending / rate, 1) if rate > 0 and pending else None,
        }

    def _observe(self, state: ModelState) -> None:
        """The state and the progress as gauges (the console's operations page reads them)."""
        MODEL_INFO.clear()
        other = state.other.embedder.name if state.other else ""
        MODEL_INFO.labels(state.active.embedder.name, other, state.phase or "").set(1)
        MIGRATION_DOCUMENTS.clear()
        for served in state.served():
            done, _ = self.states.progress(served.collection)
            pending = self.states.pending_count(served.collection)
            MIGRATION_DOCUMENTS.labels(served.embedder.name, "done").set(done)
            MIGRATION_DOCUMENTS.labels(served.embedder.name, "pending").set(pending)

    @contextmanager
    def _exclusive(self) -> Iterator[None]:
        lock = self.states.redis.lock(f"{self.states.prefix}:models:lock", timeout=120)
        if not lock.acquire(blocking_timeout=30):
            raise Conflict("another model operation is running", code="model_change_busy")
        try:
            yield
        finally:
            with suppress(LockError):  # expired: held longer than any operation should take
                lock.release()


_NATIVE = object()


def _native(target: Served, record: DocumentRecord | None) -> bool:
    """Whether index wrote the document's current version into the target itself."""
    return record is not None and record.embedder == target.embedder.key


def _served(served: Served) -> dict[str, Any]:
    return {"model": served.embedder.name, "embedder": served.embedder.model_dump(),
            "collection": served.collection}  # fmt: skip


def ndcg_at_10(ranked: list[str], relevant: set[str]) -> float:
    """nDCG@10 with binary relevance."""
    dcg = sum(1 / math.log2(i + 2) for i, doc in enumerate(ranked[:10]) if doc in relevant)
    ideal = sum(1 / math.log2(i + 2) for i in range(min(10, len(relevant))))
    return dcg / ideal if ideal else 0.0
