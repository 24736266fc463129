"""Functions loaded through functions-framework's own `create_app`, against the real stack's
Redis and Milvus, with settings adjusted per test through `SLUICE_…` variables."""

from __future__ import annotations

from collections.abc import Callable

import functions_framework
import pytest
from flask.testing import FlaskClient

from dev.stack import ROOT, Stack
from sluice.settings import cached_settings

FunctionClient = Callable[..., FlaskClient]
SOURCES = {"embed": "transform", "dead_letter": "ingest"}  # targets of another folder


@pytest.fixture
def function_client(stack: Stack, monkeypatch: pytest.MonkeyPatch) -> FunctionClient:
    """`function_client("ingest", SLUICE_X="y")`: a test client of the function's real entry
    point (its main.py), configured by the stack's environment plus the given variables."""

    def make(name: str, **env: str) -> FlaskClient:
        for key, value in {**stack.env(), **env}.items():
            if key.startswith("SLUICE_"):
                monkeypatch.setenv(key, value)
        cached_settings.cache_clear()
        folder = SOURCES.get(name, name)
        app = functions_framework.create_app(
            target=name, source=str(ROOT / "functions" / folder / "main.py")
        )
        return app.test_client()

    yield make
    cached_settings.cache_clear()
