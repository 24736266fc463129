"""Rich metadata filters through the real pipeline and searchapi: every operator in a POST
filter and as GET parameters, errors that name the key, and no filter ever reaching another
tenant's chunks."""

from __future__ import annotations

import time
from dataclasses import dataclass
from datetime import datetime

import httpx
import pytest

from tests.conftest import wait_status

MODES = ("hybrid", "dense", "text")
WORD = "quernstone"  # in every document, so that a text search finds them all

# Numbers, strings, booleans, nulls and missing keys; a hostile string; a `tenant` key.
FIRST: dict[str, dict[str, object]] = {
    "f1": {"year": 2020, "lang": "en", "draft": False},
    "f2": {"year": 2021.5, "lang": "de", "draft": True},
    "f3": {"year": "2020", "lang": "fr"},
    "f4": {"lang": "en", "tags": ["a", "b"]},
}
SECOND: dict[
    str, dict[str, object]
] = {  # accepted at least a second after the first batch was indexed
    "f5": {},
    "f6": {"year": None, "lang": 'x" or tenant != "zzz'},
    "f7": {"year": 1999, "tenant": "filters-other", "draft": False},
}
ALL = {**FIRST, **SECOND}


@dataclass(frozen=True)
class Corpus:
    tenant: str
    other: str
    between: str  # an RFC 3339 time after the first batch was accepted, before the second


def _ingest(
    ingest: httpx.Client, tenant: str, documents: dict[str, dict[str, object]], prefix: str = ""
) -> float:
    """Post the documents (their ids prefixed), wait until they are indexed; the latest time
    one was accepted."""
    batch = [
        {"id": prefix + doc_id, "title": doc_id, "text": f"Document {doc_id} mentions a {WORD}.",
         "metadata": metadata, "tenant": tenant}
        for doc_id, metadata in documents.items()
    ]  # fmt: skip
    assert ingest.post("/documents", json={"documents": batch}).status_code == 202
    accepted = [
        datetime.fromisoformat(
            str(wait_status(ingest, prefix + doc_id, tenant, "indexed")["accepted_at"])
        )
        for doc_id in documents
    ]
    return max(a.timestamp() for a in accepted)


@pytest.fixture(scope="module")
def corpus(ingest: httpx.Client) -> Corpus:
    tenant, other = "filters-module", "filters-other"
    # The other tenant holds the same documents (ids o-…): whatever the filter, none may be found.
    _ingest(ingest, other, ALL, prefix="o-")
    first = _ingest(ingest, tenant, FIRST)
    time.sleep(1.2)
    _ingest(ingest, tenant, SECOND)
    records = [
        ingest.get(f"/documents/{doc_id}", params={"tenant": tenant}).json() for doc_id in SECOND
    ]
    second = min(datetime.fromisoformat(r["accepted_at"]).timestamp() for r in records)
    assert second - first > 1
    between = datetime.fromtimestamp((first + second) / 2).astimezone().isoformat()
    return Corpus(tenant, other, between)


def post(client: httpx.Client, corpus: Corpus, flt: object, mode: str = "text") -> set[str]:
    response = client.post(
        "/v1/search",
        json={"query": WORD, "mode": mode, "tenant": corpus.tenant, "k": 50, "filter": flt},
    )
    assert response.status_code == 200, response.text
    return {str(h["document_id"]) for h in response.json()["hits"]}


def get(client: httpx.Client, corpus: Corpus, params: dict[str, str]) -> set[str]:
    query = {"q": WORD, "mode": "text", "tenant": corpus.tenant, "k": "50", **params}
    response = client.get("/v1/search", params=query)
    assert response.status_code == 200, response.text
    return {str(h["document_id"]) for h in response.json()["hits"]}


def but(*docs: str) -> set[str]:
    return set(ALL) - set(docs)


POST_CASES = [
    ({}, set(ALL)),
    ({"lang": "en"}, {"f1", "f4"}),
    ({"metadata": {"lang": {"eq": "en"}}}, {"f1", "f4"}),
    ({"year": 2020}, {"f1"}),  # the number, not the string
    ({"year": "2020"}, {"f3"}),
    ({"draft": False}, {"f1", "f7"}),
    ({"lang": 'x" or tenant != "zzz'}, {"f6"}),
    ({"year": {"ne": 2020}}, but("f1")),  # missing keys and nulls included
    ({"lang": ["en", "de"]}, {"f1", "f2", "f4"}),
    ({"year": {"in": [2020, "2020"]}}, {"f1", "f3"}),
    ({"lang": {"nin": ["en", "de"]}}, but("f1", "f2", "f4")),
    ({"year": {"gt": 2020}}, {"f2"}),
    ({"year": {"gte": 2020}}, {"f1", "f2"}),
    ({"year": {"lt": 2020}}, {"f7"}),
    ({"year": {"lte": 2021.5}}, {"f1", "f2", "f7"}),
    ({"year": {"gte": 2000, "lt": 2021}}, {"f1"}),
    ({"year": {"exists": True}}, {"f1", "f2", "f3", "f7"}),
    ({"year": {"exists": False}}, {"f4", "f5", "f6"}),
    ({"not": {"year": {"gte": 2020}}}, {"f4", "f5", "f6", "f7"}),  # missing, or a smaller number
    ({"not": {"lang": "en"}}, but("f1", "f4")),
    ({"and": [{"year": {"gte": 2020}}, {"lang": {"in": ["en", "de"]}}]}, {"f1", "f2"}),
    ({"or": [{"year": "2020"}, {"draft": True}]}, {"f2", "f3"}),
    ({"not": {"or": [{"lang": "en"}, {"year": {"exists": True}}]}}, {"f5", "f6"}),
    ({"tenant": "filters-other"}, {"f7"}),  # a metadata key, not the tenant field
    ({"document_id": ["f1", "f5"]}, {"f1", "f5"}),
    ({"document_id": {"nin": ["f1", "f5"]}}, but("f1", "f5")),
    ({"page": {"exists": False}}, set(ALL)),  # texts have no pages
    ({"page": {"ne": 1}}, set(ALL)),
    ({"page": 1}, set()),
    ({"section": {"exists": True}}, set()),
    ({"section": {"ne": "Intro"}}, set(ALL)),
]


@pytest.mark.parametrize(("flt", "want"), POST_CASES, ids=[str(c[0]) for c in POST_CASES])
def test_post_filters_select_the_documented_chunks(
    searchapi: httpx.Client, corpus: Corpus, flt: dict[str, object], want: set[str]
) -> None:
    assert post(searchapi, corpus, flt) == want


def test_updated_at_is_when_ingest_accepted_the_version(
    searchapi: httpx.Client, corpus: Corpus
) -> None:
    assert post(searchapi, corpus, {"updated_at": {"lt": corpus.between}}) == set(FIRST)
    assert post(searchapi, corpus, {"updated_at": {"gte": corpus.between}}) == set(SECOND)
    assert post(searchapi, corpus, {"not": {"updated_at": {"gte": corpus.between}}}) == set(FIRST)
    assert get(searchapi, corpus, {"filter.updated_at.gt": corpus.between}) == set(SECOND)


def test_every_mode_applies_the_filter(searchapi: httpx.Client, corpus: Corpus) -> None:
    for mode in MODES:
        assert post(searchapi, corpus, {"lang": {"ne": "en"}}, mode) == but("f1", "f4"), mode


GET_CASES = [
    ({"filter.lang": "en"}, {"f1", "f4"}),
    ({"filter.year": "2020"}, {"f1"}),  # a JSON number
    ({"filter.year": '"2020"'}, {"f3"}),  # a JSON string
    ({"filter.draft": "true"}, {"f2"}),
    ({"filter.year.gte": "2020", "filter.year.lt": "2021"}, {"f1"}),
    ({"filter.year.ne": "2020"}, but("f1")),
    ({"filter.lang.in": "en,de"}, {"f1", "f2", "f4"}),
    ({"filter.year.in": '2020,"2020"'}, {"f1", "f3"}),
    ({"filter.lang.nin": "en,de"}, but("f1", "f2", "f4")),
    ({"filter.year.exists": "false"}, {"f4", "f5", "f6"}),
    ({"filter.metadata.tenant": "filters-other"}, {"f7"}),
    ({"filter.document_id.in": "f1,f2"}, {"f1", "f2"}),
    ({"filter": '{"or": [{"year": "2020"}, {"draft": true}]}'}, {"f2", "f3"}),
    ({"filter": '{"year": {"gte": 2000}}', "filter.lang": "en"}, {"f1"}),
]


@pytest.mark.parametrize(("params", "want"), GET_CASES, ids=[str(c[0]) for c in GET_CASES])
def test_get_parameters_filter(
    searchapi: httpx.Client, corpus: Corpus, params: dict[str, str], want: set[str]
) -> None:
    assert get(searchapi, corpus, params) == want


def _error(response: httpx.Response) -> str:
    assert response.status_code == 400, response.text
    error = response.json()["error"]
    assert error["code"] == "invalid_filter"
    return str(error["message"])


def test_bad_filters_are_400s_naming_the_problem(searchapi: httpx.Client, corpus: Corpus) -> None:
    def posted(flt: object) -> str:
        body = {"query": WORD, "tenant": corpus.tenant, "filter": flt}
        return _error(searchapi.post("/v1/search", json=body))

    def got(params: dict[str, str]) -> str:
        return _error(searchapi.get("/v1/search", params={"q": WORD, **params}))

    assert posted({"and": [{"year": 1}, {"lang": {"gt": "en"}}]}).startswith(
        'filter.and[1].lang.gt: a range on metadata key "lang" needs a number'
    )
    assert "beyond the 64-bit integers" in posted({"year": 10**20})
    assert "beyond the 64-bit integers" in posted({"year": {"in": [1, -(2**63)]}})
    assert "filter.year: 1e400 is beyond" in got({"filter.year": "1e400"})
    deep: dict[str, object] = {"lang": "en"}
    for _ in range(9):
        deep = {"and": [deep]}
    assert "nested more than 8 deep" in posted(deep)
    assert "more than 100 conditions" in posted({"or": [{"k": i} for i in range(101)]})
    assert 'unknown operator "between"' in posted({"year": {"between": [1, 2]}})
    assert "null matches nothing" in posted({"lang": None})
    assert "filter.page: 0 is not a page number" in posted({"page": 0})
    assert "filter.updated_at.gte" in posted({"updated_at": {"gte": "yesterday"}})
    assert "filter.document_id" in posted({"document_id": 'x" or tenant != "y'})
    assert posted({"year": {"gte": "2020"}}).startswith("filter.year.gte:")
    assert got({"filter.lang.gt": "en"}).startswith("filter.lang.gt: a range on")
    assert got({"filter.year.between": "1"}).startswith("filter.year.between: unknown operator")
    assert got({"filter.a.b.c": "1"}).startswith("filter.a.b.c: not a filter parameter")
    assert got({"filter": "[1]"}).startswith("filter: expected a JSON object")
    assert got({"filter.lang.exists": "maybe"}).startswith("filter.lang.exists")
    # NaN and infinities are not JSON: the body is refused before the filter is read.
    response = searchapi.post(
        "/v1/search",
        content=b'{"query": "x", "filter": {"year": {"gt": NaN}}}',
        headers={"Content-Type": "application/json"},
    )
    assert response.status_code == 400 and response.json()["error"]["code"] == "invalid_json"


HOSTILE = [
    ({"or": [{"tenant": "filters-other"}, {"lang": "en"}]}, {"f1", "f4", "f7"}),
    ({"or": [{"metadata": {"tenant": {"ne": "filters-module"}}}, {"lang": "de"}]}, set(ALL)),
    ({"not": {"lang": 'x" or tenant != "zzz'}}, but("f6")),
    ({"lang": '") or (tenant == "filters-other'}, set()),
    ({"lang": {"in": ['\\" or 1==1 or \\"', ") or (true"]}}, set()),
    ({"document_id": {"nin": ["f1", "o-f1"]}}, but("f1")),
    ({"not": {"and": [{"year": {"gte": 0}}, {"not": {"lang": {"exists": True}}}]}}, but("f7")),
    ({"page": {"ne": 1}}, set(ALL)),
]


@pytest.mark.parametrize(("flt", "want"), HOSTILE, ids=[str(c[0]) for c in HOSTILE])
def test_no_filter_reaches_another_tenant(
    searchapi: httpx.Client, corpus: Corpus, flt: dict[str, object], want: set[str]
) -> None:
    for mode in MODES:
        assert post(searchapi, corpus, flt, mode) == want, mode
    # The other tenant's copies are there to be found, under its own name.
    other = Corpus(corpus.other, corpus.tenant, corpus.between)
    assert post(searchapi, other, flt) == {"o-" + d for d in want}
