"""dev/compose_env.py: compose's credentials file, out of reach of python-dotenv's search."""

from __future__ import annotations

from pathlib import Path

import pymilvus.settings
from dotenv import dotenv_values

from dev import compose_env


def test_the_credentials_file_is_not_a_dotenv_pymilvus_would_load() -> None:
    """pymilvus calls load_dotenv() at import, which takes the first `.env` in the folders
    above its own (`.venv/` is inside the checkout). When the file was `<repo>/.env`, its
    SLUICE_* credentials entered every process that imported pymilvus."""
    start = Path(pymilvus.settings.__file__).resolve().parent
    searched = [folder / ".env" for folder in (start, *start.parents)]
    assert compose_env.DEFAULT_PATH.resolve() not in searched


def test_credentials_are_generated_once_and_kept(tmp_path: Path) -> None:
    path = tmp_path / "sub" / "compose.env"
    added = compose_env.complete(path)
    assert set(added) == set(compose_env.generated())
    assert path.stat().st_mode & 0o777 == 0o600
    first = dotenv_values(path)
    assert compose_env.complete(path) == {}
    assert dotenv_values(path) == first


def test_every_credential_compose_requires_is_generated() -> None:
    """compose.yaml refuses to start without each of compose_policy's credentials (the models
    function's admin key among them): `make compose-env` must write every one."""
    from tools.observability import compose_policy

    assert set(compose_policy.CREDENTIALS) == set(compose_env.generated())
    assert "SLUICE_MODELS__ADMIN_KEY" in compose_policy.CREDENTIALS
