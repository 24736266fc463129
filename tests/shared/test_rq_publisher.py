"""The RQ publisher groups a publication's events into jobs by count and by size."""

from __future__ import annotations

import pytest
from cloudevents.http import CloudEvent
from rq import Queue

from sluice.events import DOCUMENT_ACCEPTED, DocumentAccepted, make_event, now_iso
from sluice.rq.publisher import RqPublisher
from sluice.settings import QueuesConfig, load_settings
from tests.conftest import RedisServer


def _events(count: int, text_size: int) -> list[CloudEvent]:
    return [
        make_event(
            DOCUMENT_ACCEPTED,
            "/tests",
            DocumentAccepted(
                id=f"d{n}",
                tenant="t",
                version="v",
                title="",
                text="x" * text_size,
                metadata={},
                accepted_at=now_iso(),
            ),
            subject=f"d{n}",
            tenant="t",
            version="v",
        )
        for n in range(count)
    ]


@pytest.mark.parametrize(
    ("count", "text_size", "max_events", "max_bytes", "jobs"),
    [
        (10, 10, 4, 1_000_000, [4, 4, 2]),
        (10, 10, 64, 1_000_000, [10]),
        (5, 3000, 64, 7000, [2, 2, 1]),
        (3, 9000, 64, 7000, [1, 1, 1]),  # an event over the byte bound travels alone
        (1, 10, 64, 1_000_000, [1]),
    ],
)
def test_events_are_grouped_by_count_and_bytes(
    redis_server: RedisServer,
    count: int,
    text_size: int,
    max_events: int,
    max_bytes: int,
    jobs: list[int],
) -> None:
    routing = load_settings(QueuesConfig).routing.model_copy(
        update={"max_batch_events": max_events, "max_batch_bytes": max_bytes}
    )
    queue_name = f"batches-{count}-{text_size}-{max_events}-{max_bytes}"
    routing.subscribers["transform"] = routing.subscribers["transform"].model_copy(
        update={"queue": queue_name}
    )
    redis = redis_server.client()
    transport = RqPublisher(routing, redis)
    route = next(r for r in routing.routes if r.event == DOCUMENT_ACCEPTED)
    transport.publish([route], _events(count, text_size))
    queue = Queue(queue_name, connection=redis)
    sizes = [len(job.args[1]) for job in queue.get_jobs()]
    assert sizes == jobs
    assert [e["document_id"] for job in queue.get_jobs() for e in job.meta["events"]] == [
        f"d{n}" for n in range(count)
    ]
