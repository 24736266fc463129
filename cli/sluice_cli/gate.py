"""The quality gate of `sluice models migrate --eval FILE`: the user's queries file (JSON Lines,
one `{"query", "relevant": [doc ids], "tenant"}` a line) as the gate's `queries`, each line
checked as the models function checks it, a bad one named by its line."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from sluice_cli.config import TENANT
from sluice_cli.errors import UsageProblem
from sluice_cli.jsonl import parse

KNOWN = ("query", "relevant", "tenant")
DEFAULT_TENANT = "default"  # the tenant of documents sent without one
MAX_QUERIES = 2000  # the models function's limits (sluice.stores.models.Gate)
MAX_QUERY_CHARS = 2000
MAX_RELEVANT = 1000


def read_queries(path: Path) -> list[dict[str, Any]]:
    """The gate's queries from a JSON-lines file (blank lines ignored; a line without `tenant`
    is the `default` tenant's). `UsageProblem` naming `FILE:LINE` for the first bad line, an
    unreadable file, or one without any query."""
    queries: list[dict[str, Any]] = []
    try:
        with path.open("rb") as lines:
            for number, raw in enumerate(lines, 1):
                if not raw.strip():
                    continue
                parsed = parse(raw)
                reason = parsed if isinstance(parsed, str) else _problem(parsed)
                if reason is not None:
                    raise UsageProblem(f"--eval {path}:{number}: {reason}")
                assert isinstance(parsed, dict)
                queries.append(
                    {
                        "query": parsed["query"],
                        "relevant": parsed["relevant"],
                        "tenant": parsed.get("tenant", DEFAULT_TENANT),
                    }
                )
    except OSError as exc:
        raise UsageProblem(f"--eval: cannot read {path}: {exc.strerror or exc}") from exc
    if not queries:
        raise UsageProblem(f"--eval {path}: no queries (one JSON object a line)")
    if len(queries) > MAX_QUERIES:
        raise UsageProblem(
            f"--eval {path}: {len(queries)} queries, the gate takes at most {MAX_QUERIES}"
        )
    return queries


def _problem(line: dict[str, Any]) -> str | None:
    """Why a line's object is not a gate query, or None."""
    unknown = sorted(set(line) - set(KNOWN))
    if unknown:
        return f"unknown key {', '.join(map(repr, unknown))} (known: {', '.join(KNOWN)})"
    query = line.get("query")
    if not isinstance(query, str) or not query.strip():
        return '"query" must be a non-empty string'
    if len(query) > MAX_QUERY_CHARS:
        return f'"query" is longer than {MAX_QUERY_CHARS} characters'
    relevant = line.get("relevant")
    if (
        not isinstance(relevant, list)
        or not relevant
        or not all(isinstance(doc, str) and doc for doc in relevant)
    ):
        return '"relevant" must be a non-empty list of document ids (strings)'
    if len(relevant) > MAX_RELEVANT:
        return f'"relevant" names more than {MAX_RELEVANT} documents'
    tenant = line.get("tenant", DEFAULT_TENANT)
    if not isinstance(tenant, str) or not TENANT.fullmatch(tenant):
        return f'"tenant" {tenant!r} is not a tenant name'
    return None
