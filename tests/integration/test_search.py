"""searchapi (the Go binary) finds what the pipeline indexed, per tenant, in every mode."""

from __future__ import annotations

import json
import subprocess
from collections.abc import Iterator

import httpx
import pytest

from dev.stack import ROOT, Stack
from tests.conftest import free_port, wait_for, wait_status

MODES = ("hybrid", "dense", "text")
DOCUMENTS = [
    (
        "mill",
        "Water mills",
        "A water mill turns flowing water into rotation with a wheel. "
        "Millers ground grain with it.",
        {"topic": "water", "year": 1800},
    ),
    (
        "lock",
        "Canal locks",
        "A lock raises and lowers boats between stretches of water at "
        "different levels, filling and emptying its chamber.",
        {"topic": "water", "year": 1900},
    ),
    (
        "hnsw",
        "Vector search",
        "HNSW builds a navigable small-world graph so that nearest "
        "neighbours of a query vector are found quickly.",
        {"topic": "search", "year": 2016},
    ),
    (
        "bm25",
        "BM25",
        "BM25 ranks documents by the query terms they contain, rewarding rare "
        "terms such as quillwort and damping repeated ones.",
        {"topic": "search", "year": 1994},
    ),
    (
        "rrf",
        "Fusion",
        "Reciprocal rank fusion adds the reciprocals of a result's ranks in "
        "several lists to merge dense and full-text rankings.",
        {"topic": "search", "year": 2009},
    ),
]


def ingest_documents(ingest: httpx.Client, tenant: str, prefix: str = "") -> None:
    """Post the documents for a tenant and wait until all are indexed."""
    batch = [
        {
            "id": prefix + doc_id,
            "title": title,
            "text": text,
            "metadata": metadata,
            "tenant": tenant,
        }
        for doc_id, title, text, metadata in DOCUMENTS
    ]
    assert ingest.post("/documents", json={"documents": batch}).status_code == 202
    for document in batch:
        wait_status(ingest, document["id"], tenant, "indexed")


@pytest.fixture(scope="module")
def indexed(ingest: httpx.Client) -> str:
    """A tenant whose documents are indexed."""
    tenant = "search-module"
    ingest_documents(ingest, tenant)
    return tenant


def search(client: httpx.Client, **body: object) -> list[dict[str, object]]:
    response = client.post("/v1/search", json=body)
    assert response.status_code == 200, response.text
    result = response.json()
    assert result["mode"] == body.get("mode", "hybrid")
    return list(result["hits"])


@pytest.mark.parametrize("mode", MODES)
def test_every_mode_finds_the_relevant_document(
    searchapi: httpx.Client, indexed: str, mode: str
) -> None:
    hits = search(searchapi, query="water mill wheel grain", mode=mode, tenant=indexed, k=3)
    assert hits, f"{mode} found nothing"
    assert hits[0]["document_id"] == "mill"
    hit = hits[0]
    assert set(hit) == {
        "chunk_id", "document_id", "chunk", "score", "title", "text", "metadata",
        "page", "page_end", "section", "highlights", "snippet",
    } | ({"scores"} if mode == "hybrid" else set())  # fmt: skip
    assert hit["title"] == "Water mills" and hit["metadata"] == {"topic": "water", "year": 1800}
    assert (hit["page"], hit["page_end"], hit["section"]) == (None, None, "")  # not a file
    assert "water mill" in str(hit["text"])


def test_a_rare_term_s_document_is_the_top_text_hit(searchapi: httpx.Client, indexed: str) -> None:
    response = searchapi.get(
        "/v1/search", params={"q": "quillwort", "mode": "text", "tenant": indexed}
    )
    assert response.status_code == 200
    hits = response.json()["hits"]
    assert [h["document_id"] for h in hits] == ["bm25"]


def test_filters_restrict_the_hits(searchapi: httpx.Client, indexed: str) -> None:
    for mode in MODES:
        by_topic = search(
            searchapi,
            query="water search graph ranks",
            mode=mode,
            tenant=indexed,
            filter={"metadata": {"topic": "search"}},
        )
        assert by_topic and {h["document_id"] for h in by_topic} <= {"hnsw", "bm25", "rrf"}
        by_year = search(
            searchapi,
            query="water search",
            mode=mode,
            tenant=indexed,
            filter={"metadata": {"year": [1800, 2009]}},
        )
        assert by_year and {h["document_id"] for h in by_year} <= {"mill", "rrf"}
        by_id = search(
            searchapi,
            query="water",
            mode=mode,
            tenant=indexed,
            filter={"document_id": ["lock", "rrf"]},
        )
        assert by_id and {h["document_id"] for h in by_id} <= {"lock", "rrf"}


def test_offset_pages_without_overlap(searchapi: httpx.Client, indexed: str) -> None:
    for mode in MODES:
        everything = search(
            searchapi, query="water search ranks graph", mode=mode, tenant=indexed, k=4
        )
        first = search(searchapi, query="water search ranks graph", mode=mode, tenant=indexed, k=2)
        second = search(
            searchapi, query="water search ranks graph", mode=mode, tenant=indexed, k=2, offset=2
        )
        pages = [h["chunk_id"] for h in first + second]
        assert len(set(pages)) == len(pages) == 4, mode
        assert pages == [h["chunk_id"] for h in everything], mode


def test_bad_requests_get_json_errors(searchapi: httpx.Client) -> None:
    cases = [
        ({"q": ""}, 400, "invalid_query"),
        ({"q": "x", "k": "0"}, 400, "invalid_k"),
        ({"q": "x", "k": "1001"}, 400, "invalid_k"),
        ({"q": "x", "mode": "fuzzy"}, 400, "invalid_mode"),
        ({"q": "x", "offset": "-1"}, 400, "invalid_offset"),
    ]
    for params, status, code in cases:
        response = searchapi.get("/v1/search", params=params)
        assert (response.status_code, response.json()["error"]["code"]) == (status, code)
    response = searchapi.post(
        "/v1/search", json={"query": "x", "filter": {"metadata": {"a": {"nested": 1}}}}
    )
    assert (response.status_code, response.json()["error"]["code"]) == (400, "invalid_filter")
    assert searchapi.get("/v1/documents/unknown-doc").status_code == 404


def test_document_status_counts_its_chunks(searchapi: httpx.Client, indexed: str) -> None:
    response = searchapi.get("/v1/documents/mill", params={"tenant": indexed})
    assert response.status_code == 200
    record = response.json()
    assert record["status"] == "indexed" and record["indexed_chunks"] == record["chunks"] == 1


@pytest.fixture(scope="module")
def keyed_searchapi(stack: Stack, ingest: httpx.Client) -> Iterator[httpx.Client]:
    """A second searchapi on the same stack, with API keys for tenants keyed-a and keyed-b."""
    for tenant in ("keyed-a", "keyed-b"):
        ingest_documents(ingest, tenant, prefix=f"{tenant}-")
    port = free_port()
    keys = {"key-a": "keyed-a", "key-b": "keyed-b"}
    env = {
        **stack.env(),
        "SLUICE_SEARCHAPI__PORT": str(port),
        "SLUICE_AUTH__API_KEYS": json.dumps(keys),
    }
    log = (stack.directory / "logs" / "searchapi-keyed.log").open("ab")
    process = subprocess.Popen(
        [str(stack.searchapi_binary())], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_for(lambda: _answers(client), 30, "the keyed searchapi to start")
            yield client
    finally:
        process.terminate()
        process.wait(timeout=15)


def _answers(client: httpx.Client) -> bool:
    try:
        return client.get("/readyz").status_code == 200
    except httpx.HTTPError:
        return False


def test_each_tenant_sees_only_its_own_chunks(keyed_searchapi: httpx.Client) -> None:
    assert keyed_searchapi.get("/v1/search", params={"q": "water"}).status_code == 401
    for key, tenant, other in (("key-a", "keyed-a", "keyed-b"), ("key-b", "keyed-b", "keyed-a")):
        auth = {"Authorization": f"Bearer {key}"}
        for mode in MODES:
            response = keyed_searchapi.post(
                "/v1/search",
                headers=auth,
                json={"query": "water mill search graph ranks", "mode": mode, "k": 50},
            )
            hits = response.json()["hits"]
            assert hits and all(str(h["document_id"]).startswith(tenant) for h in hits), mode
            # Naming the other tenant's documents finds nothing; naming the tenant is refused.
            sneaky = keyed_searchapi.post(
                "/v1/search",
                headers=auth,
                json={
                    "query": "water",
                    "mode": mode,
                    "filter": {
                        "document_id": f"{other}-mill",
                        "metadata": {"topic": 'water" or tenant != "nobody'},
                    },
                },
            )
            assert sneaky.status_code == 200 and sneaky.json()["hits"] == [], mode
        forbidden = keyed_searchapi.get(
            "/v1/search", headers=auth, params={"q": "water", "tenant": other}
        )
        assert forbidden.status_code == 403
        assert keyed_searchapi.get(f"/v1/documents/{other}-mill", headers=auth).status_code == 404
        assert keyed_searchapi.get(f"/v1/documents/{tenant}-mill", headers=auth).status_code == 200


def test_searchapi_recovers_when_milvus_comes_back(
    stack: Stack, searchapi: httpx.Client, ingest: httpx.Client, indexed: str
) -> None:
    stack.stop("milvus")
    try:
        response = searchapi.get("/v1/search", params={"q": "water", "tenant": indexed})
        assert response.status_code == 503
        assert response.json()["error"]["code"] == "milvus_unavailable"
        assert searchapi.get("/readyz").status_code == 503
    finally:
        stack.start("milvus")
        stack.wait_ready("milvus")
    wait_for(lambda: searchapi.get("/readyz").status_code == 200, 60, "searchapi ready again")
    response = searchapi.get("/v1/search", params={"q": "water mill", "tenant": indexed})
    assert response.status_code == 200 and response.json()["hits"]
    # The pipeline recovers too: a new document still reaches Milvus.
    ingest.post(
        "/documents",
        json={"id": "after-outage", "text": "Written after the outage.", "tenant": indexed},
    )
    wait_status(ingest, "after-outage", indexed, "indexed", timeout=120)


def test_searchapi_embeds_queries_with_the_collections_model_not_the_configured_one(
    stack: Stack, indexed: str
) -> None:
    """The stack's chunks are hashing vectors: a searchapi whose settings name the model (and
    an embedding endpoint nobody serves) still embeds queries with the model the collection
    records, so the answer is right (docs/model-changes.md: after a model change the settings
    no longer decide)."""
    port = free_port()
    env = {
        **stack.env(),
        "SLUICE_SEARCHAPI__PORT": str(port),
        "SLUICE_EMBEDDER__MODEL": "all-MiniLM-L6-v2",
        "SLUICE_EMBEDDER__URL": f"http://127.0.0.1:{free_port()}/v1/embeddings",
    }
    log = (stack.directory / "logs" / "searchapi-other-model.log").open("ab")
    process = subprocess.Popen(
        [str(stack.searchapi_binary())], cwd=ROOT, env=env, stdout=log, stderr=log
    )
    try:
        with httpx.Client(base_url=f"http://127.0.0.1:{port}", timeout=30) as client:
            wait_for(lambda: _listening(client), 30, "the other searchapi to start")
            expected = httpx.get(
                stack.url("searchapi") + "/v1/search",
                params={"q": "water wheel", "mode": "dense", "tenant": indexed},
                timeout=30,
            ).json()
            response = client.get(
                "/v1/search", params={"q": "water wheel", "mode": "dense", "tenant": indexed}
            )
            assert response.status_code == 200, response.text
            body = response.json()
            assert body["embedder"]["name"] == "hashing"
            assert [h["chunk_id"] for h in body["hits"]] == [
                h["chunk_id"] for h in expected["hits"]
            ]
            assert client.get("/readyz").status_code == 200
    finally:
        process.terminate()
        process.wait(timeout=15)


def _listening(client: httpx.Client) -> bool:
    try:
        return client.get("/healthz").status_code == 200
    except httpx.HTTPError:
        return False


def test_the_healthcheck_flag_reports_whether_searchapi_answers(stack: Stack) -> None:
    """`searchapi -healthcheck` is the image's HEALTHCHECK (distroless has no shell or curl)."""
    binary = str(stack.searchapi_binary())
    healthy = subprocess.run([binary, "-healthcheck"], env=stack.env(), capture_output=True)
    assert healthy.returncode == 0, healthy.stderr
    env = {**stack.env(), "SLUICE_SEARCHAPI__PORT": str(free_port())}
    down = subprocess.run([binary, "-healthcheck"], env=env, capture_output=True, text=True)
    assert down.returncode == 1
    assert "healthcheck" in down.stderr
