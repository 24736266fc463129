"""The listing indexes of document records: per tenant, one sorted set of every id and one per
status, written by the same scripts as the records, so a listing never disagrees with them;
pages in id order, stable while documents come and change; the backfill for older records."""

from __future__ import annotations

import uuid

import pytest
from redis import Redis

from dev.stack import ROOT
from sluice import cli
from sluice.events import DocumentAccepted, now_iso
from sluice.lifecycle import Status, Transition
from sluice.stores.documents import STORED_STATUSES, Backfill, DocumentStore
from tests.conftest import RedisServer

IDENTITY = "hashing:384:1"


def _source(doc_id: str, version: str = "v1", tenant: str = "a") -> DocumentAccepted:
    return DocumentAccepted(
        id=doc_id,
        tenant=tenant,
        version=version,
        title="",
        text=f"the text of {version}",
        metadata={},
        accepted_at=now_iso(),
    )


@pytest.fixture
def store(private_redis: Redis) -> DocumentStore:
    return DocumentStore(private_redis, f"t{uuid.uuid4().hex[:8]}")


def _members(store: DocumentStore, key: str) -> set[str]:
    return {m.decode() for m in store.redis.zrange(key, 0, -1)}


def _index(store: DocumentStore, tenant: str) -> dict[str, set[str]]:
    """What the indexes say: every id, and the ids of each status that has any."""
    index = {"*": _members(store, store.index_key(tenant))}
    for status in STORED_STATUSES:
        if members := _members(store, store.index_key(tenant, status)):
            index[status] = members
    return index


def _records(store: DocumentStore, tenant: str, ids: list[str]) -> dict[str, set[str]]:
    """What the records say, in the same shape."""
    records = {"*": set(ids)}
    for doc_id, record in zip(ids, store.get_many([(tenant, i) for i in ids]), strict=True):
        assert record is not None
        records.setdefault(record.status, set()).add(doc_id)
    return records


def _all_ids(store: DocumentStore, tenant: str, limit: int, **filters: object) -> list[str]:
    ids: list[str] = []
    after = None
    while True:
        page = store.page(tenant, after=after, limit=limit, **filters)  # type: ignore[arg-type]
        ids += [r.id for r in page.records]
        if page.last_id is None:
            return ids
        after = page.last_id


def test_the_indexes_follow_every_status_change(store: DocumentStore) -> None:
    ids = ["a", "b", "c"]
    assert store.accept_many([_source(i) for i in ids], IDENTITY) == [True] * 3
    assert _index(store, "a") == _records(store, "a", ids) == {"*": set(ids), "accepted": set(ids)}

    store.transition_many([Transition("a", i, "v1", Status.TRANSFORMING) for i in ids])
    store.transition_many([Transition("a", "a", "v1", Status.EMBEDDED)])
    store.transition_many([Transition("a", "a", "v1", Status.INDEXED, {"chunks": 2})])
    assert store.mark_failed([("a", "b", "v1")], "boom") == 1
    assert store.mark_deleted("a", "c")
    assert _index(store, "a") == _records(store, "a", ids)
    assert _index(store, "a") == {
        "*": set(ids),
        "indexed": {"a"},
        "failed": {"b"},
        "deleted": {"c"},
    }

    # A change that does not apply (an old version, a status it may not come from) moves nothing.
    assert store.transition_many([Transition("a", "a", "v0", Status.FAILED)]) == [False]
    assert store.transition_many([Transition("a", "c", "v1", Status.EMBEDDED)]) == [False]
    # Accepted again: a failed and a deleted version, a new version of an indexed one.
    assert store.accept_many([_source("b"), _source("c"), _source("a", "v2")], IDENTITY) == [
        True,
        True,
        True,
    ]
    assert _index(store, "a") == _records(store, "a", ids) == {"*": set(ids), "accepted": set(ids)}
    # Unchanged: nothing moves.
    assert store.accept_many([_source("a", "v2")], IDENTITY) == [False]
    assert _index(store, "a") == {"*": set(ids), "accepted": set(ids)}


def test_deleting_an_unknown_document_files_nothing(store: DocumentStore) -> None:
    assert not store.mark_deleted("a", "ghost")
    assert _index(store, "a") == {"*": set()}
    assert store.get("a", "ghost") is None


def test_pages_go_in_id_order_with_the_filters_total(store: DocumentStore) -> None:
    ids = [f"doc-{n:02d}" for n in range(25)]
    store.accept_many([_source(i) for i in reversed(ids)], IDENTITY)

    first = store.page("a", limit=10)
    assert [r.id for r in first.records] == ids[:10]
    assert first.last_id == "doc-09" and first.total == 25
    assert all(r.tenant == "a" and r.status == Status.ACCEPTED for r in first.records)
    last = store.page("a", after="doc-19", limit=10)
    assert [r.id for r in last.records] == ids[20:] and last.last_id is None
    # Exactly `limit` left: the page says no more follow (no empty page to ask for).
    assert store.page("a", after="doc-14", limit=10).last_id is None
    assert _all_ids(store, "a", 7) == ids


def test_paging_while_documents_come_and_change_skips_and_repeats_nothing(
    store: DocumentStore,
) -> None:
    ids = [f"doc-{n:02d}" for n in range(30)]
    store.accept_many([_source(i) for i in ids], IDENTITY)
    seen: list[str] = []
    page = store.page("a", limit=10)
    seen += [r.id for r in page.records]
    # Between pages: a new id before the cursor, one after, and changes to listed ones.
    store.accept_many([_source("doc-05a"), _source("doc-25a")], IDENTITY)
    store.transition_many([Transition("a", "doc-03", "v1", Status.TRANSFORMING)])
    store.accept_many([_source("doc-15", "v2")], IDENTITY)
    while page.last_id is not None:
        page = store.page("a", after=page.last_id, limit=10)
        seen += [r.id for r in page.records]

    assert len(seen) == len(set(seen))
    assert set(ids) <= set(seen)
    assert "doc-25a" in seen and "doc-05a" not in seen
    assert seen == sorted(seen)


def test_the_status_filter_and_the_prefix(store: DocumentStore) -> None:
    store.accept_many([_source(i) for i in ["x-1", "x-2", "x-3", "y-1", "x"]], IDENTITY)
    store.mark_failed([("a", "x-2", "v1"), ("a", "y-1", "v1")], "boom")

    failed = store.page("a", status=Status.FAILED)
    assert [r.id for r in failed.records] == ["x-2", "y-1"] and failed.total == 2
    assert all(r.status == Status.FAILED and r.error == "boom" for r in failed.records)
    prefixed = store.page("a", prefix="x-")
    assert [r.id for r in prefixed.records] == ["x-1", "x-2", "x-3"] and prefixed.total == 3
    both = store.page("a", status=Status.ACCEPTED, prefix="x")
    assert [r.id for r in both.records] == ["x", "x-1", "x-3"] and both.total == 3
    assert _all_ids(store, "a", 1, prefix="x-") == ["x-1", "x-2", "x-3"]
    assert store.page("a", status=Status.INDEXED) == store.page("a", prefix="z")
    assert store.page("a", status=Status.INDEXED).total == 0
    # A cursor before the prefix's ids starts at the prefix, one after them ends the list.
    assert [r.id for r in store.page("a", prefix="x-", after="a").records] == ["x-1", "x-2", "x-3"]
    assert store.page("a", prefix="x-", after="x-9").records == []
    assert [r.id for r in store.page("a", prefix="x-", after="x-1").records] == ["x-2", "x-3"]


def test_tenants_never_see_each_others_documents(store: DocumentStore) -> None:
    store.accept_many([_source("doc", tenant="a"), _source("mine", tenant="a")], IDENTITY)
    store.accept_many([_source("doc", tenant="ab"), _source("theirs", tenant="ab")], IDENTITY)
    store.mark_deleted("ab", "doc")

    assert [r.id for r in store.page("a").records] == ["doc", "mine"]
    assert [r.status for r in store.page("a").records] == [Status.ACCEPTED] * 2
    assert [r.id for r in store.page("ab").records] == ["doc", "theirs"]
    assert store.page("a", status=Status.DELETED).records == []
    assert store.page("b").records == [] and store.page("b").total == 0


@pytest.mark.parametrize("odd", ["x:lock", "*", "[a", "(a", "-", "+", "\xff", "a\xff", "ö"])
def test_ids_and_prefixes_that_look_like_syntax_are_plain_text(
    store: DocumentStore, odd: str
) -> None:
    # Ids no API accepts, written straight to the store: still only members of their sets.
    store.accept_many([_source(i) for i in ["x", odd, odd + "z", "z" + odd]], IDENTITY)
    store.accept_many([_source(odd, tenant="b")], IDENTITY)

    assert sorted(r.id for r in store.page("a").records) == sorted(["x", odd, odd + "z", "z" + odd])
    assert [r.id for r in store.page("a", prefix=odd).records] == [odd, odd + "z"]
    assert store.page("a", prefix=odd).total == 2
    assert [r.id for r in store.page("a", prefix=odd, after=odd).records] == [odd + "z"]
    assert [r.id for r in store.page("b").records] == [odd]
    # The record kinds of the id itself are not touched: `x:lock` is a record, not x's lock.
    assert store.get("a", "x") is not None


def test_a_record_gone_from_under_its_index_entry_is_skipped(store: DocumentStore) -> None:
    store.accept_many([_source(i) for i in ["a", "b", "c", "d"]], IDENTITY)
    store.redis.delete(store.key("a", "b"), store.key("a", "c"))

    page = store.page("a", limit=2)
    assert [r.id for r in page.records] == ["a"] and page.last_id == "b"
    rest = store.page("a", after=page.last_id, limit=2)
    assert [r.id for r in rest.records] == ["d"] and rest.last_id is None
    assert page.total == 4  # counted until the backfill files them out
    assert store.backfill_index() == Backfill(filed=2, dropped=2)
    assert store.page("a").total == 2


def test_the_backfill_files_records_written_before_the_indexes(store: DocumentStore) -> None:
    store.accept_many([_source(f"d{n}", tenant=t) for n in range(5) for t in "ab"], IDENTITY)
    store.mark_failed([("a", "d1", "v1")], "boom")
    store.mark_deleted("b", "d2")
    before = {t: _index(store, t) for t in "ab"}
    index_keys = store.redis.keys(f"{store.prefix}:docs:*") + store.redis.keys(
        f"{store.prefix}:status:*"
    )
    store.redis.delete(*index_keys)  # what a store of the previous release has
    store.redis.set(f"{store.prefix}:doc:notatenant", "x")  # not a record key
    store.redis.set(f"{store.prefix}:doc:a:stringy", "x")  # not a hash
    other = DocumentStore(store.redis, store.prefix + "x")
    other.accept_many([_source("elsewhere")], IDENTITY)

    assert store.backfill_index(batch=3) == Backfill(filed=10, dropped=0)
    assert {t: _index(store, t) for t in "ab"} == before
    assert [r.id for r in store.page("a", status=Status.FAILED).records] == ["d1"]
    assert store.backfill_index() == Backfill(10, 0)  # again: nothing changes
    assert {t: _index(store, t) for t in "ab"} == before
    assert _members(store, other.index_key("a")) == {"elsewhere"}


def test_the_backfill_takes_a_prefix_with_glob_characters_literally(
    private_redis: Redis,
) -> None:
    base = f"t{uuid.uuid4().hex[:8]}"
    starred = DocumentStore(private_redis, base + "*")
    plain = DocumentStore(private_redis, base + "x")
    starred.accept_many([_source("s")], IDENTITY)
    plain.accept_many([_source("p")], IDENTITY)
    private_redis.delete(starred.index_key("a"), plain.index_key("a"))

    assert starred.backfill_index() == Backfill(1, 0)
    assert _members(starred, starred.index_key("a")) == {"s"}
    assert _members(plain, plain.index_key("a")) == set()


def test_sluice_documents_reindex_runs_the_backfill(
    redis_server: RedisServer,
    private_redis: Redis,
    monkeypatch: pytest.MonkeyPatch,
    capsys: pytest.CaptureFixture[str],
) -> None:
    prefix = f"t{uuid.uuid4().hex[:8]}"
    store = DocumentStore(private_redis, prefix)
    store.accept_many([_source("one"), _source("two")], IDENTITY)
    private_redis.delete(store.index_key("a"), store.index_key("a", Status.ACCEPTED))
    monkeypatch.setenv("SLUICE_CONF_DIR", str(ROOT / "conf"))
    monkeypatch.setenv("SLUICE_REDIS__URL", redis_server.url)
    monkeypatch.setenv("SLUICE_REDIS__KEY_PREFIX", prefix)

    assert cli.main(["documents", "reindex"]) == 0
    assert "filed 2 documents; dropped 0" in capsys.readouterr().err
    assert [r.id for r in store.page("a", status=Status.ACCEPTED).records] == ["one", "two"]
