"""The model state in Redis: the default until the first change, compare-and-set writes, and
the pending documents of each collection (a real Redis)."""

from __future__ import annotations

from redis import Redis

from sluice.embedders.identity import EmbedderIdentity
from sluice.stores.models import ModelState, ModelStates, Served

HASHING = Served(
    collection="c__v4_hashing_384", embedder=EmbedderIdentity(name="hashing", dim=384, version="1")
)
MINILM = Served(
    collection="c__v4_minilm_384", embedder=EmbedderIdentity(name="m", dim=384, version="2")
)


def test_until_the_first_change_the_default_is_active_and_nothing_is_written(
    private_redis: Redis,
) -> None:
    states = ModelStates(private_redis, "t1")
    assert states.get(HASHING) == ModelState(active=HASHING)
    assert states.active_embedder(HASHING.embedder) == HASHING.embedder
    assert private_redis.get(states.key) is None
    state, created = states.get_or_create(HASHING)
    assert created and state.active == HASHING
    # a process with other settings finds the recorded state, not its own default
    again, created = states.get_or_create(MINILM)
    assert not created and again.active == HASHING
    assert states.active_embedder(MINILM.embedder) == HASHING.embedder


def test_a_write_from_a_stale_state_is_refused(private_redis: Redis) -> None:
    states = ModelStates(private_redis, "t2")
    first, _ = states.get_or_create(HASHING)
    building = first.model_copy(update={"other": MINILM, "phase": "building"})
    assert states.replace(first, building)
    assert states.get(HASHING).revision == 1
    stale = first.model_copy(update={"phase": "ready"})
    assert not states.replace(first, stale)  # first's revision is 0; the state is at 1
    assert states.get(HASHING).phase == "building"
    assert states.get(HASHING).served() == [HASHING, MINILM]
    assert states.get(HASHING).serving(MINILM.embedder) == MINILM


def test_pending_documents_are_kept_until_done_and_counted(private_redis: Redis) -> None:
    states = ModelStates(private_redis, "t3")
    refs = [("acme", "a"), ("acme", 'quote"d'), ("globex", "t3:models:state"), ("acme", "ü 東京")]
    states.add_pending([MINILM.collection, HASHING.collection], refs)
    assert states.pending_count(MINILM.collection) == 4
    assert sorted(states.pending(MINILM.collection, 10)) == sorted(refs)
    assert private_redis.get(states.key) is None  # an id like a key is only a member
    states.done(MINILM.collection, refs[:3])
    assert states.pending(MINILM.collection, 10) == [refs[3]]
    done, since = states.progress(MINILM.collection)
    assert done == 3 and since > 0
    assert states.pending_count(HASHING.collection) == 4  # each collection its own
    states.forget(MINILM.collection)
    assert states.pending_count(MINILM.collection) == 0
    assert states.progress(MINILM.collection) == (0, 0.0)
