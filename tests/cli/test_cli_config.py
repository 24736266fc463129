"""Where the URL, the key and the tenant come from: flag > environment > config file >
default; a broken configuration is exit 2; the key is never printed."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.cli.conftest import Runner
from tests.cli.httpserver import Answer, Received, ScriptedServer

RECORD = {"id": "doc-1", "tenant": "default", "version": "0" * 32, "status": "indexed"}


@pytest.fixture
def servers() -> Iterator[tuple[ScriptedServer, ScriptedServer, ScriptedServer]]:
    """Three servers answering a document's record: which one a run asks shows which URL won."""
    with (
        ScriptedServer(lambda r: Answer(200, RECORD)) as a,
        ScriptedServer(lambda r: Answer(200, RECORD)) as b,
        ScriptedServer(lambda r: Answer(200, RECORD)) as c,
    ):
        yield a, b, c


def _write(path: Path, text: str) -> Path:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text(text)
    return path


def _only(server: ScriptedServer) -> Received:
    (request,) = server.received
    return request


def test_the_config_file_the_environment_and_flags_in_order(
    sluice: Runner, home: Path, servers: tuple[ScriptedServer, ScriptedServer, ScriptedServer]
) -> None:
    a, b, c = servers
    _write(
        home / ".config" / "sluice" / "config.toml",
        f'url = "{a.url}"\napi_key = "file-key"\ntenant = "from-file"\n',
    )
    assert sluice("status", "doc-1").code == 0  # the default config file
    request = _only(a)
    assert request.path == "/v1/ingest/documents/doc-1"
    assert request.headers["authorization"] == "Bearer file-key"
    assert request.query == {"tenant": ["from-file"]}

    env = {"SLUICE_URL": b.url, "SLUICE_API_KEY": "env-key"}
    assert sluice("status", "doc-1", env=env).code == 0  # the environment over the file
    request = _only(b)
    assert request.headers["authorization"] == "Bearer env-key"
    assert request.query == {"tenant": ["from-file"]}

    flags = ["--url", c.url, "--api-key", "flag-key", "--tenant", "flagged"]
    assert sluice("status", "doc-1", *flags, env=env).code == 0  # flags over both
    request = _only(c)
    assert request.headers["authorization"] == "Bearer flag-key"
    assert request.query == {"tenant": ["flagged"]}
    assert len(a.received) == len(b.received) == 1


def test_config_names_another_file_and_xdg_config_home_moves_the_default(
    sluice: Runner, home: Path, tmp_path: Path, servers: tuple[ScriptedServer, ...]
) -> None:
    a, b, _ = servers
    _write(home / ".config" / "sluice" / "config.toml", f'url = "{a.url}"\n')
    other = _write(tmp_path / "elsewhere.toml", f'url = "{b.url}"\n')
    assert sluice("status", "doc-1", "--config", str(other)).code == 0
    assert len(b.received) == 1 and a.received == []
    assert "authorization" not in b.received[0].headers  # no key anywhere: none sent

    moved = tmp_path / "xdg"
    _write(moved / "sluice" / "config.toml", f'url = "{b.url}"\n')
    assert sluice("status", "doc-1", env={"XDG_CONFIG_HOME": str(moved)}).code == 0
    assert len(b.received) == 2 and a.received == []


def test_without_anything_the_default_url(sluice: Runner) -> None:
    result = sluice("search", "--help")
    assert "http://127.0.0.1:8080" in result.stdout
    assert "SLUICE_URL" in result.stdout and "SLUICE_API_KEY" in result.stdout


@pytest.mark.parametrize(
    ("content", "message"),
    [
        ('url = "http://x"\nurll = "typo"\n', "unknown key urll"),
        ("url = [1]\n", "url must be a string"),
        ("url = \n", "is not TOML"),
        ('url = "ftp://somewhere"\n', "is not an http:// or https:// URL"),
        ('tenant = "Not A Tenant"\n', "is not a tenant name"),
    ],
)
def test_a_broken_config_file_is_exit_2(
    sluice: Runner, tmp_path: Path, content: str, message: str
) -> None:
    path = _write(tmp_path / "bad.toml", content)
    result = sluice("status", "doc-1", "--config", str(path))
    assert result.code == 2, result.output
    assert message in " ".join(result.stderr.split()), result.stderr


def test_a_missing_config_file_named_is_exit_2(sluice: Runner, tmp_path: Path) -> None:
    result = sluice("documents", "--config", str(tmp_path / "absent.toml"))
    assert result.code == 2 and "absent.toml" in result.stderr


def test_a_bad_url_or_tenant_flag_is_exit_2(sluice: Runner) -> None:
    assert sluice("status", "x", "--url", "not a url").code == 2
    assert sluice("status", "x", "--tenant", "UPPER").code == 2
    assert sluice("status", "x", env={"SLUICE_URL": "localhost:8080"}).code == 2


def test_the_key_is_never_printed(
    sluice: Runner, home: Path, servers: tuple[ScriptedServer, ...]
) -> None:
    a, _, _ = servers
    _write(home / ".config" / "sluice" / "config.toml", 'api_key = "file-secret-123"\n')
    results = [
        sluice("ingest", "--help"),
        sluice("status", "doc-1", "--url", a.url, "--json"),
        sluice("status", "doc-1", "--url", a.url, "--api-key", "flag-secret-456"),
        sluice("search", "q", "--url", "http://127.0.0.1:1", env={"SLUICE_API_KEY": "env-789"}),
    ]
    assert results[-1].code == 3
    for result in results:
        for secret in ("file-secret-123", "flag-secret-456", "env-789"):
            assert secret not in result.output
