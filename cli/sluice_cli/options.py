"""The options every command shares: where searchapi is, the API key, the config file, the
tenant, JSON output; and those of `sluice models`: where the models function is, its admin
key."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer

from sluice_cli.config import (
    ADMIN_KEY_ENV,
    API_KEY_ENV,
    LOCAL_ADMIN_KEY,
    MODELS_URL_ENV,
    URL_ENV,
    check_tenant,
    check_url,
    load_defaults,
)

CONNECTION = "Connection"

Url = Annotated[
    str,
    typer.Option(
        "--url",
        envvar=URL_ENV,
        callback=check_url,
        metavar="URL",
        help="searchapi's base URL (it forwards the ingest routes). "
        "Else $SLUICE_URL, else `url` in the config file.",
        rich_help_panel=CONNECTION,
    ),
]

ApiKey = Annotated[
    str | None,
    typer.Option(
        "--api-key",
        envvar=API_KEY_ENV,
        metavar="KEY",
        show_default=False,
        help="API key, sent as `Authorization: Bearer KEY` (never printed). "
        "Else $SLUICE_API_KEY, else `api_key` in the config file; none by default. "
        "Prefer those two: a flag is visible to other users in `ps`.",
        rich_help_panel=CONNECTION,
    ),
]

Config = Annotated[
    Path | None,
    typer.Option(
        "--config",
        is_eager=True,
        callback=load_defaults,
        dir_okay=False,
        metavar="PATH",
        show_default=False,
        help="Config file (TOML: url, api_key, tenant, models_url, admin_key), below flags and "
        "the environment. "
        "Default: $XDG_CONFIG_HOME/sluice/config.toml (~/.config/sluice/config.toml), "
        "if it exists.",
        rich_help_panel=CONNECTION,
    ),
]

Tenant = Annotated[
    str | None,
    typer.Option(
        "--tenant",
        callback=check_tenant,
        metavar="TENANT",
        show_default=False,
        help="Tenant to act for (without API keys; with one, the key's tenant applies). "
        "Else `tenant` in the config file, else the server's default.",
    ),
]

Json = Annotated[
    bool, typer.Option("--json", help="Print the server's answer as JSON instead of a table.")
]

ModelsUrl = Annotated[
    str,
    typer.Option(
        "--models-url",
        envvar=MODELS_URL_ENV,
        callback=check_url,
        metavar="URL",
        help="The models function's base URL (its admin API). "
        "Else $SLUICE_MODELS_URL, else `models_url` in the config file.",
        rich_help_panel=CONNECTION,
    ),
]

AdminKey = Annotated[
    str | None,
    typer.Option(
        "--admin-key",
        envvar=ADMIN_KEY_ENV,
        metavar="KEY",
        show_default=False,
        help="The models function's admin key (`models.admin_key`), sent as "
        "`Authorization: Bearer KEY` (never printed). Else $SLUICE_ADMIN_KEY, else `admin_key` "
        f"in the config file, else the local stack's ./{LOCAL_ADMIN_KEY.as_posix()} (below the "
        "current directory, written by `make up`) when the URL is on this machine.",
        rich_help_panel=CONNECTION,
    ),
]
