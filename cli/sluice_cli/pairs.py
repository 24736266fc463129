"""`key=value` options: `--metadata` of ingest and `--filter` of search."""

from __future__ import annotations

import json
from typing import Any

from sluice_cli.errors import UsageProblem

TEXT_FILTERS = frozenset({"document_id", "section"})
"""`--filter` keys that are fields of searchapi's `filter` taking text (`page` too, a number);
any other key is a metadata key."""


def scalar(text: str) -> str | int | float | bool:
    """The value of `key=value`: a JSON number or boolean when it reads as one, else the text."""

    def refuse(constant: str) -> Any:
        raise ValueError(constant)  # NaN and Infinity are not JSON numbers

    try:
        value = json.loads(text, parse_constant=refuse)
    except ValueError:
        return text
    return value if isinstance(value, bool | int | float) else text


def parse_pairs(
    pairs: list[str], option: str, text_keys: frozenset[str] = frozenset()
) -> dict[str, Any]:
    """`key=value` items as a mapping (the values of `text_keys` kept as text); a key given
    several times maps to the list of its values (any of them, in a filter)."""
    result: dict[str, Any] = {}
    for pair in pairs:
        key, sep, text = pair.partition("=")
        key = key.strip()
        if not sep or not key:
            raise UsageProblem(f"{option} takes key=value, not {pair!r}")
        value = text if key in text_keys else scalar(text)
        if key not in result:
            result[key] = value
        elif isinstance(result[key], list):
            result[key].append(value)
        else:
            result[key] = [result[key], value]
    return result


def search_filter(pairs: list[str]) -> dict[str, Any] | None:
    """searchapi's `filter` from `--filter` items: `document_id`, `page` and `section` at its
    top level (ids and sections always as text), every other key under `metadata`."""
    result: dict[str, Any] = {}
    metadata: dict[str, Any] = {}
    for key, value in parse_pairs(pairs, "--filter", TEXT_FILTERS).items():
        if key in TEXT_FILTERS or key == "page":
            result[key] = value
        else:
            metadata[key] = value
    if metadata:
        result["metadata"] = metadata
    return result or None
