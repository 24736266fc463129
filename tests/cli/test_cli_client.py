"""The one HTTP client against a real local HTTP server: retries and their delays, error
answers, the bearer key."""

from __future__ import annotations

import random
import socket
from collections.abc import Iterator

import pytest
from sluice_cli.client import Client, RetryPolicy
from sluice_cli.errors import AUTH, FAILED, UNAVAILABLE, ApiError, AuthRefused, ServerUnavailable

from tests.cli.httpserver import Answer, Received, ScriptedServer, error


class Sleeps(list[float]):
    """The delays the client asked for (instead of sleeping them)."""

    def __call__(self, seconds: float) -> None:
        self.append(seconds)


@pytest.fixture
def sleeps() -> Sleeps:
    return Sleeps()


def _policy(sleeps: Sleeps, **kwargs: int) -> RetryPolicy:
    return RetryPolicy(sleep=sleeps, rng=random.Random(7), **kwargs)


def _answers(*answers: Answer) -> Iterator[Answer]:
    yield from answers
    while True:
        yield Answer(500, {"error": {"code": "internal_error", "message": "too many requests"}})


def test_429_is_retried_after_retry_after_then_succeeds(sleeps: Sleeps) -> None:
    answers = _answers(
        error(429, "queue_full", "the queue is full", Retry_After="3"),
        error(429, "queue_full", "the queue is full", Retry_After="1"),
        Answer(202, {"ok": True}),
    )
    with ScriptedServer(lambda r: next(answers)) as server:
        client = Client(server.url, "key-1", retry=_policy(sleeps))
        response = client.request("POST", "/v1/ingest/documents", content=b"hello")
        client.close()
    assert response.status_code == 202 and response.json() == {"ok": True}
    assert len(server.received) == 3
    assert all(r.body == b"hello" for r in server.received)  # the body is sent again
    assert len(sleeps) == 2
    assert 3.0 <= sleeps[0] <= 3.3 and 1.0 <= sleeps[1] <= 1.1  # Retry-After, plus jitter


def test_5xx_back_off_exponentially_with_jitter_then_give_up(sleeps: Sleeps) -> None:
    with ScriptedServer(lambda r: error(503, "redis_unavailable", "Redis is down")) as server:
        client = Client(server.url, retry=_policy(sleeps, attempts=5))
        with pytest.raises(ServerUnavailable) as raised:
            client.get("/v1/ingest/documents")
        client.close()
    assert len(server.received) == 5
    assert raised.value.exit_code == UNAVAILABLE
    assert str(raised.value) == "503 redis_unavailable: Redis is down (after 5 attempts)"
    # 0.5 s doubling: each delay between half and all of its step
    for n, delay in enumerate(sleeps):
        assert 0.25 * 2**n <= delay <= 0.5 * 2**n
    assert sleeps == sorted(sleeps)


@pytest.mark.parametrize("status", [502, 504])
def test_gateway_errors_are_retried(sleeps: Sleeps, status: int) -> None:
    answers = _answers(error(status, "ingest_unavailable", "down"), Answer(200, {"ok": 1}))
    with (
        ScriptedServer(lambda r: next(answers)) as server,
        Client(server.url, retry=_policy(sleeps)) as client,
    ):
        assert client.get("/v1/ingest/dead-letters") == {"ok": 1}
    assert len(server.received) == 2 and len(sleeps) == 1


@pytest.mark.parametrize(
    ("status", "kind", "code"),
    [
        (400, ApiError, FAILED),
        (404, ApiError, FAILED),
        (422, ApiError, FAILED),
        (500, ApiError, UNAVAILABLE),
        (401, AuthRefused, AUTH),
        (403, AuthRefused, AUTH),
    ],
)
def test_other_errors_are_not_retried(
    sleeps: Sleeps, status: int, kind: type[ApiError], code: int
) -> None:
    with (
        ScriptedServer(lambda r: error(status, "some_code", "what went wrong")) as server,
        Client(server.url, retry=_policy(sleeps)) as client,
        pytest.raises(kind) as raised,
    ):
        client.get("/v1/ingest/documents/x")
    assert len(server.received) == 1 and sleeps == []
    assert raised.value.exit_code == code
    assert str(raised.value) == f"{status} some_code: what went wrong"


def test_validation_details_are_part_of_the_message(sleeps: Sleeps) -> None:
    body = {
        "error": {
            "code": "validation_failed",
            "message": "the payload is invalid",
            "details": [{"field": "documents.0.text", "message": "String should match"}],
        }
    }
    with (
        ScriptedServer(lambda r: Answer(422, body)) as server,
        Client(server.url, retry=_policy(sleeps)) as client,
        pytest.raises(ApiError) as raised,
    ):
        client.post("/v1/ingest/documents", {"documents": [{}]})
    assert raised.value.code == "validation_failed"
    assert str(raised.value) == (
        "422 validation_failed: the payload is invalid (documents.0.text: String should match)"
    )


def test_an_unreachable_server_is_retried_then_exit_3(sleeps: Sleeps) -> None:
    with socket.socket() as probe:  # a port nothing listens on
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    client = Client(f"http://127.0.0.1:{port}", retry=_policy(sleeps, attempts=3))
    with pytest.raises(ServerUnavailable, match=f"could not reach http://127.0.0.1:{port}"):
        client.get("/v1/search")
    assert len(sleeps) == 2


def test_the_key_is_a_bearer_header_never_in_the_url(sleeps: Sleeps) -> None:
    seen: list[Received] = []

    def script(received: Received) -> Answer:
        seen.append(received)
        return Answer(200, {"hits": []})

    with ScriptedServer(script) as server, Client(server.url, "s3cret-key") as client:
        client.post("/v1/search", {"query": "q"}, {"tenant": "acme"})
    (request,) = seen
    assert request.headers["authorization"] == "Bearer s3cret-key"
    assert "s3cret" not in request.path + str(request.query)
    assert request.query == {"tenant": ["acme"]}


def test_without_a_key_no_authorization_header(sleeps: Sleeps) -> None:
    with ScriptedServer(lambda r: Answer(200, {})) as server, Client(server.url) as client:
        client.get("/v1/ingest/documents")
    assert "authorization" not in server.received[0].headers
