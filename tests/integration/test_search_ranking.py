"""What a search returns beyond the hits themselves, through the real stack: highlights and
snippets (offsets in code points, stems matched), one hit per document, the score of each
mode and `min_score` on it, and the fusion settings of hybrid search."""

from __future__ import annotations

import httpx
import pytest

from tests.conftest import wait_status

MODES = ("hybrid", "dense", "text")
FILLER = "Unrelated words about weather and the colour of autumn leaves fill this part. "
DOCUMENTS = [
    {
        "id": "turbines",
        "title": "Wind turbines",
        # several chunks (the chunker's size is 1000 characters): the rotor passage is deep in
        "text": FILLER * 14
        + "Each turbine's rotor turns a generator; the rotors of modern turbines are huge. "
        + FILLER * 14
        + "Offshore turbines face salt spray.",
    },
    {
        "id": "cafe",
        "title": "Café culture",
        "text": "🦀 Über-naïve critics wrote that the café's espresso was naïvely priced.",
    },
    {
        "id": "mills",
        "title": "Water mills",
        "text": "A water mill grinds grain; millers were milling flour at the mill race.",
    },
]


@pytest.fixture(scope="module")
def indexed(stack: object, ingest: httpx.Client) -> str:
    tenant = "ranking-module"
    batch = [{**d, "tenant": tenant} for d in DOCUMENTS]
    assert ingest.post("/documents", json={"documents": batch}).status_code == 202
    for document in batch:
        wait_status(ingest, document["id"], tenant, "indexed")
    return tenant


def search(client: httpx.Client, **body: object) -> list[dict[str, object]]:
    response = client.post("/v1/search", json=body)
    assert response.status_code == 200, response.text
    return list(response.json()["hits"])


def marked(text: str, spans: object) -> list[str]:
    """The parts of text the spans (code-point offsets) cover: Python strings index code
    points, as the offsets count."""
    assert isinstance(spans, list)
    return [text[s["start"] : s["end"]] for s in spans]


@pytest.mark.parametrize("mode", MODES)
def test_highlights_point_at_the_matched_words(
    searchapi: httpx.Client, indexed: str, mode: str
) -> None:
    # the stem of "milling" is "mill": so are those of "mill" and "milled", not "millers"'s
    # ("miller"). (The stack's hashing embedder finds the document by the word itself.)
    hits = search(searchapi, query="milling", mode=mode, tenant=indexed, k=1)
    assert hits and hits[0]["document_id"] == "mills"
    text = str(hits[0]["text"])
    words = marked(text, hits[0]["highlights"])
    assert words and {w.lower() for w in words} <= {"mill", "milling", "mills"}, words
    assert "mill" in words and "milling" in words and "millers" not in words


@pytest.mark.parametrize("mode", MODES)
def test_offsets_count_code_points_in_non_ascii_text(
    searchapi: httpx.Client, indexed: str, mode: str
) -> None:
    hits = search(searchapi, query="naïve café", mode=mode, tenant=indexed, k=3)
    hit = next(h for h in hits if h["document_id"] == "cafe")
    text = str(hit["text"])
    # after an astral-plane character (two UTF-16 units, one code point) and "Über-"
    words = marked(text, hit["highlights"])
    assert words[:2] == ["naïve", "café"], hit["highlights"]
    snippet = hit["snippet"]
    assert isinstance(snippet, dict)
    assert text[snippet["start"] : snippet["end"]] == snippet["text"]
    assert marked(snippet["text"], snippet["highlights"]) == words


def test_the_snippet_is_the_passage_with_the_matches(searchapi: httpx.Client, indexed: str) -> None:
    hits = search(
        searchapi, query="rotor generator", mode="text", tenant=indexed, k=1, group_by="document"
    )
    assert [h["document_id"] for h in hits] == ["turbines"]
    hit = hits[0]
    snippet = hit["snippet"]
    assert isinstance(snippet, dict)
    text = str(hit["text"])
    assert len(text) > 300 and len(snippet["text"]) <= 200
    assert text[snippet["start"] : snippet["end"]] == snippet["text"]
    words = marked(snippet["text"], snippet["highlights"])
    assert "rotor" in words and "generator" in words, snippet


@pytest.mark.parametrize("mode", MODES)
def test_group_by_document_returns_each_document_once(
    searchapi: httpx.Client, indexed: str, mode: str
) -> None:
    chunks = search(searchapi, query="turbines weather autumn", mode=mode, tenant=indexed, k=20)
    turbine_chunks = [h for h in chunks if h["document_id"] == "turbines"]
    assert len(turbine_chunks) >= 2, "the test document should have several matching chunks"
    grouped = search(
        searchapi,
        query="turbines weather autumn",
        mode=mode,
        tenant=indexed,
        k=20,
        group_by="document",
    )
    documents = [h["document_id"] for h in grouped]
    assert len(documents) == len(set(documents)) and "turbines" in documents
    best = next(h for h in grouped if h["document_id"] == "turbines")
    assert best["chunk_id"] == turbine_chunks[0]["chunk_id"]  # its best chunk
    assert best["more_chunks"] == len(turbine_chunks) - 1
    # pages of one document each walk the same documents, in the same order
    paged = [
        h["document_id"]
        for offset in range(len(documents))
        for h in search(
            searchapi,
            query="turbines weather autumn",
            mode=mode,
            tenant=indexed,
            k=1,
            offset=offset,
            group_by="document",
        )
    ]
    assert paged == documents


@pytest.mark.parametrize("mode", MODES)
def test_scores_are_best_first_and_min_score_cuts_them(
    searchapi: httpx.Client, indexed: str, mode: str
) -> None:
    query = "water mill turbines"
    hits = search(searchapi, query=query, mode=mode, tenant=indexed, k=10)
    scores = [float(h["score"]) for h in hits]  # type: ignore[arg-type]
    assert len(scores) >= 2 and scores == sorted(scores, reverse=True)
    assert scores[0] > 0  # BM25 is positive (milvus-lite answers it negated)
    lower = next(s for s in scores if s < scores[0])
    threshold = (scores[0] + lower) / 2
    kept = search(searchapi, query=query, mode=mode, tenant=indexed, k=10, min_score=threshold)
    assert kept and [h["chunk_id"] for h in kept] == [
        h["chunk_id"]
        for h in hits
        if float(h["score"]) >= threshold  # type: ignore[arg-type]
    ]


def test_hybrid_hits_carry_each_ranking_s_score(searchapi: httpx.Client, indexed: str) -> None:
    hybrid = search(searchapi, query="water mill grain", tenant=indexed, k=3)
    dense = search(searchapi, query="water mill grain", mode="dense", tenant=indexed, k=3)
    text = search(searchapi, query="water mill grain", mode="text", tenant=indexed, k=3)
    top = hybrid[0]
    assert top["document_id"] == "mills"
    scores = top["scores"]
    assert isinstance(scores, dict)
    assert scores["dense"] == pytest.approx(dense[0]["score"], rel=1e-5)
    assert scores["text"] == pytest.approx(text[0]["score"], rel=1e-5)


def test_fusion_settings_change_the_ranking(searchapi: httpx.Client, indexed: str) -> None:
    query = "water mill grain"
    text_only = search(
        searchapi, query=query, tenant=indexed, k=3, fusion={"weights": {"dense": 0}}
    )
    assert all(h["scores"]["dense"] is None for h in text_only)  # type: ignore[index]
    # the default: score fusion, text weighted 1.25: scores within [0, 2.25]
    by_score = search(searchapi, query=query, tenant=indexed, k=3)
    assert by_score[0]["document_id"] == "mills" and 0 < float(by_score[0]["score"]) <= 2.25  # type: ignore[arg-type]
    by_rank = search(searchapi, query=query, tenant=indexed, k=3, fusion={"k": 60})
    assert by_rank[0]["document_id"] == "mills"
    # RRF with the default weights (1, 1.25): at most 2.25 / (60 + 1)
    assert float(by_rank[0]["score"]) <= 2.25 / 61 + 1e-6  # type: ignore[arg-type]
    bad = searchapi.post(
        "/v1/search",
        json={"query": query, "tenant": indexed, "fusion": {"method": "score", "k": 10}},
    )
    assert bad.status_code == 400 and bad.json()["error"]["code"] == "invalid_fusion"
    assert "fusion.k" in bad.json()["error"]["message"]
