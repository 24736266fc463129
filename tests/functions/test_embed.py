"""The embedding endpoint (transform's `embed` target) speaks OpenAI's embeddings API."""

from __future__ import annotations

import pytest

from sluice.embedders.hashing import HashingEmbedder
from tests.functions.conftest import FunctionClient


def test_it_answers_like_openai(function_client: FunctionClient) -> None:
    client = function_client("embed")
    response = client.post(
        "/v1/embeddings", json={"input": ["first text", "second"], "model": "hashing"}
    )
    assert response.status_code == 200, response.get_data(as_text=True)
    body = response.get_json()
    assert body["object"] == "list" and body["model"] == "hashing"
    assert [d["index"] for d in body["data"]] == [0, 1]
    assert body["data"][0]["embedding"] == HashingEmbedder(384).embed(["first text"])[0]
    assert body["usage"]["prompt_tokens"] == 3
    single = client.post("/v1/embeddings", json={"input": "one text"}).get_json()
    assert len(single["data"]) == 1 and len(single["data"][0]["embedding"]) == 384


@pytest.mark.parametrize(
    ("body", "status", "code"),
    [
        ({"input": "x", "model": "text-embedding-3-large"}, 422, "model_not_found"),
        ({"input": []}, 422, "validation_failed"),
        ({"input": ["ok", "  "]}, 422, "empty_input"),
        ({"input": ["x"] * 257}, 413, "too_many_inputs"),
        ({"input": "x" * 32_001}, 413, "input_too_long"),
        ({"model": "hashing"}, 422, "validation_failed"),
    ],
)
def test_bad_requests(
    function_client: FunctionClient, body: dict[str, object], status: int, code: str
) -> None:
    response = function_client("embed").post("/v1/embeddings", json=body)
    assert response.status_code == status
    assert response.get_json()["error"]["code"] == code


def test_only_the_embeddings_route(function_client: FunctionClient) -> None:
    client = function_client("embed")
    assert client.post("/", json={}).status_code == 404
    assert client.get("/v1/embeddings").status_code == 405
    assert client.get("/healthz").status_code == 200
