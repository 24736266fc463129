"""Document records in Redis: no document id of any tenant can name, read or block another
document's keys (issue 11: `victim:lock` sat on the index lock of `victim`, `victim:written`
overwrote which versions of `victim` were written)."""

from __future__ import annotations

import subprocess
import sys
import time
import uuid
from pathlib import Path

import pytest
from redis import Redis
from redis.exceptions import LockError

from sluice.events import DocumentAccepted, now_iso
from sluice.lifecycle import Status, Transition
from sluice.stores.documents import DocumentStore
from tests.conftest import RedisServer

IDENTITY = "hashing:384:1"


def _source(doc_id: str, version: str, tenant: str = "a") -> DocumentAccepted:
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


def test_an_id_ending_like_an_internal_key_does_not_hold_another_documents_lock(
    store: DocumentStore,
) -> None:
    store.accept_many([_source("victim:lock", "v1")], IDENTITY)  # a record of its own
    with store.locked([("a", "victim")], wait=1):
        pass  # would wait the lock's whole timeout, then raise LockError


def test_an_id_ending_like_an_internal_key_does_not_touch_another_documents_versions(
    store: DocumentStore,
) -> None:
    store.accept_many([_source("victim", "v1")], IDENTITY)
    store.record_written([("a", "victim", "v1", 3)])
    assert store.accept_many([_source("victim:written", "x")], IDENTITY) == [True]
    assert store.written_versions([("a", "victim")]) == [{"v1": 3}]
    record = store.get("a", "victim:written")
    assert record is not None and record.status == Status.ACCEPTED and record.version == "x"


def test_internal_keys_are_not_records(store: DocumentStore) -> None:
    store.accept_many([_source("victim", "v1")], IDENTITY)
    store.record_written([("a", "victim", "v1", 3)])
    with store.locked([("a", "victim")], wait=30):
        assert store.get("a", "victim:written") is None
        assert store.get("a", "victim:lock") is None


def test_tenants_do_not_share_keys(store: DocumentStore) -> None:
    store.accept_many([_source("doc", "v1")], IDENTITY)
    assert store.get("b", "doc") is None
    assert store.get("a", "doc") is not None


def test_the_locks_of_a_holder_that_dies_are_free_again_after_their_ttl(
    store: DocumentStore, redis_server: RedisServer, tmp_path: Path
) -> None:
    # Issue 11: index killed -9 while it held 33 locks made the next writes wait out the
    # locks' 120 s. A holder in another process takes the lock, then is killed mid-write.
    holder = subprocess.Popen(
        [sys.executable, "-c", HOLDER.format(url=redis_server.url, prefix=store.prefix)],
        stdout=subprocess.PIPE,
        text=True,
    )
    assert holder.stdout is not None and holder.stdout.readline().strip() == "held"
    time.sleep(2.5)  # longer than the ttl (1 s): only the renewal keeps it held
    with pytest.raises(LockError), store.locked([("a", "doc")], wait=0.2, ttl=1):
        pass
    holder.kill()
    holder.wait()
    with store.locked([("a", "doc")], wait=3, ttl=1):  # free within the ttl of the death
        pass


HOLDER = """
import time
from redis import Redis
from sluice.stores.documents import DocumentStore
from tests.conftest import RedisServer
with DocumentStore(Redis.from_url({url!r}), {prefix!r}).locked([("a", "doc")], wait=1, ttl=1):
    print("held", flush=True)
    time.sleep(600)
"""


def test_an_accepted_version_is_in_flight_with_its_source_until_it_is_final(
    store: DocumentStore,
) -> None:
    # Issue 11, defect 5: a version accepted but never published (ingest killed between the
    # two, or Redis gone mid-batch) stayed `accepted` forever and was answered `unchanged`.
    store.accept_many([_source("doc", "v1"), _source("other", "v1")], IDENTITY)
    assert sorted(store.stalled(since=time.time())) == [("a", "doc"), ("a", "other")]
    source = store.source("a", "doc")
    assert source is not None and source.text == "the text of v1"
    assert store.stalled(since=time.time() - 60) == []  # moved recently

    store.transition_many([Transition("a", "doc", "v1", Status.TRANSFORMING)])
    assert store.in_flight_count() == 2
    store.transition_many([Transition("a", "doc", "v1", Status.INDEXED, {"chunks": 1})])
    assert store.stalled(since=time.time()) == [("a", "other")]
    assert store.source("a", "doc") is None
    store.mark_failed([("a", "other", "v1")], "boom")
    assert store.in_flight_count() == 0


def test_a_deleted_document_leaves_the_ledger(store: DocumentStore) -> None:
    store.accept_many([_source("doc", "v1")], IDENTITY)
    assert store.mark_deleted("a", "doc")
    assert store.in_flight_count() == 0 and store.source("a", "doc") is None


def test_a_newer_version_replaces_the_source_in_flight(store: DocumentStore) -> None:
    store.accept_many([_source("doc", "v1")], IDENTITY)
    store.accept_many([_source("doc", "v2")], IDENTITY)
    source = store.source("a", "doc")
    assert source is not None and source.version == "v2"
    store.transition_many([Transition("a", "doc", "v1", Status.INDEXED)])  # late: no effect
    assert store.in_flight_count() == 1
