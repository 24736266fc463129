"""Where the base URL, the API key and the tenant come from: a flag, else the environment
(`SLUICE_URL`, `SLUICE_API_KEY`), else the config file, else the default. The same for the
models function's URL and admin key (`sluice models`: `SLUICE_MODELS_URL`, `SLUICE_ADMIN_KEY`),
whose key, failing all of those, is the local stack's (`.sluice/secrets/admin_key`) when the URL
is on this machine.

Click resolves that order itself (command line, `envvar`, `default_map`, default); this module
reads the config file into the `default_map` of the command being run and checks the values."""

from __future__ import annotations

import os
import re
import tomllib
from pathlib import Path
from typing import Any

import httpx
import typer

DEFAULT_URL = "http://127.0.0.1:8080"
URL_ENV = "SLUICE_URL"
API_KEY_ENV = "SLUICE_API_KEY"
DEFAULT_MODELS_URL = "http://127.0.0.1:8086"  # the models function of `make up` (dev/stack.py)
MODELS_URL_ENV = "SLUICE_MODELS_URL"
ADMIN_KEY_ENV = "SLUICE_ADMIN_KEY"
LOCAL_ADMIN_KEY = Path(".sluice") / "secrets" / "admin_key"  # below the current directory
LOOPBACK = frozenset({"127.0.0.1", "localhost", "::1"})
KEYS = ("url", "api_key", "tenant", "models_url", "admin_key")
TENANT = re.compile(r"[a-z0-9][a-z0-9_-]{0,62}")


def default_path() -> Path:
    """`$XDG_CONFIG_HOME/sluice/config.toml`, by default `~/.config/sluice/config.toml`."""
    base = os.environ.get("XDG_CONFIG_HOME") or str(Path.home() / ".config")
    return Path(base) / "sluice" / "config.toml"


def read_file(path: Path) -> dict[str, str]:
    """The settings of a config file: a TOML table of `url`, `api_key`, `tenant`,
    `models_url`, `admin_key` (strings)."""
    try:
        data: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, UnicodeDecodeError) as exc:
        raise ValueError(f"cannot read {path}: {exc}") from exc
    except tomllib.TOMLDecodeError as exc:
        raise ValueError(f"{path} is not TOML: {exc}") from exc
    unknown = sorted(set(data) - set(KEYS))
    if unknown:
        raise ValueError(f"{path}: unknown key {', '.join(unknown)} (known: {', '.join(KEYS)})")
    for key, value in data.items():
        if not isinstance(value, str):
            raise ValueError(f"{path}: {key} must be a string")
    return data


def load_defaults(ctx: typer.Context, param: typer.CallbackParam, value: Path | None) -> Path:
    """`--config`'s callback (eager, so it runs before the options it supplies): the file's
    settings become the command's defaults, below flags and environment variables. The
    default file may be absent; one named with `--config` must exist."""
    path = value or default_path()
    if value is None and not path.exists():
        return path
    try:
        settings = read_file(path)
    except ValueError as exc:
        raise typer.BadParameter(str(exc), ctx=ctx, param_hint="--config") from exc
    ctx.default_map = {**(ctx.default_map or {}), **settings}
    return path


def check_url(value: str) -> str:
    """`--url`'s check: an absolute http(s) URL; returned without a trailing slash."""
    try:
        url = httpx.URL(value)
    except (httpx.InvalidURL, TypeError) as exc:
        raise typer.BadParameter(f"not a URL: {exc}") from exc
    if url.scheme not in ("http", "https") or not url.host:
        raise typer.BadParameter(f"{value!r} is not an http:// or https:// URL")
    return value.rstrip("/")


def check_tenant(value: str | None) -> str | None:
    """`--tenant`'s check: a tenant name as the servers take it."""
    if value is not None and not TENANT.fullmatch(value):
        raise typer.BadParameter(
            f"{value!r} is not a tenant name (lowercase letters, digits, _ and -, "
            "starting with a letter or digit, at most 63)"
        )
    return value


def local_admin_key(models_url: str, cwd: Path | None = None) -> str | None:
    """The local stack's admin key (`.sluice/secrets/admin_key` below the current directory,
    written by `make up`), when the file exists and `models_url` is on this machine (the key of
    a laptop stack is never sent elsewhere); else None."""
    try:
        host = httpx.URL(models_url).host
    except httpx.InvalidURL:
        return None
    if host not in LOOPBACK and not host.startswith("127."):
        return None
    path = (cwd or Path.cwd()) / LOCAL_ADMIN_KEY
    try:
        key = path.read_text(encoding="utf-8").strip()
    except (OSError, UnicodeDecodeError):
        return None
    return key or None
