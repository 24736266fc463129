"""`key=value` options: metadata values and search filters."""

from __future__ import annotations

import pytest
from sluice_cli.errors import UsageProblem
from sluice_cli.pairs import parse_pairs, scalar, search_filter


@pytest.mark.parametrize(
    ("text", "value"),
    [
        ("3", 3),
        ("-2.5", -2.5),
        ("true", True),
        ("false", False),
        ("en", "en"),
        ("007", "007"),
        ("null", "null"),
        ("NaN", "NaN"),
        ("Infinity", "Infinity"),
        ('"quoted"', '"quoted"'),
        ("[1, 2]", "[1, 2]"),
        ("", ""),
        ("a=b", "a=b"),
    ],
)
def test_values_are_numbers_and_booleans_else_text(text: str, value: object) -> None:
    assert scalar(text) == value
    assert type(scalar(text)) is type(value)


def test_a_key_twice_is_a_list() -> None:
    assert parse_pairs(["lang=en", "year=2024", "lang=de", "lang=fr"], "--metadata") == {
        "lang": ["en", "de", "fr"],
        "year": 2024,
    }


@pytest.mark.parametrize("pair", ["novalue", "=value", " =x"])
def test_a_pair_needs_a_key_and_an_equals_sign(pair: str) -> None:
    with pytest.raises(UsageProblem, match="--filter takes key=value"):
        parse_pairs([pair], "--filter")


def test_search_filters_split_into_chunk_fields_and_metadata() -> None:
    assert search_filter([]) is None
    assert search_filter(
        [
            "document_id=123",
            "document_id=doc-2",
            "page=3",
            "section=2.1 Setup",
            "lang=en",
            "year=2024",
            "public=true",
        ]
    ) == {
        "document_id": ["123", "doc-2"],
        "page": 3,
        "section": "2.1 Setup",
        "metadata": {"lang": "en", "year": 2024, "public": True},
    }
    assert search_filter(["document_id=1e3"]) == {"document_id": "1e3"}
