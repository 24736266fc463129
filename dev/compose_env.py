"""`make compose-env`: write the credentials compose.yaml requires into `.sluice/compose.env`
(git-ignored, owner-only), generating each one that is not set yet; existing values are kept.

    python -m dev.compose_env [--path .sluice/compose.env]
    docker compose --env-file .sluice/compose.env up -d --build

Not `.env` next to compose.yaml, where Compose would find it without `--env-file`: pymilvus
calls python-dotenv's `load_dotenv()` when it is imported, which walks up from its own folder
(`.venv/` is inside the checkout) to the first `.env`, and so put these credentials into the
environment of every Sluice process and test that imports pymilvus (`SLUICE_AUTH__API_KEYS`
among them: a local stack would have taken compose's API key).

Prints the generated API key once, so that a client can use it.
"""

from __future__ import annotations

import argparse
import json
import os
import secrets
from pathlib import Path

from dotenv import dotenv_values

ROOT = Path(__file__).resolve().parent.parent
DEFAULT_PATH = ROOT / ".sluice" / "compose.env"


def generated() -> dict[str, str]:
    """A fresh value for every credential compose.yaml requires (URL-safe, for the Redis URL)."""
    return {
        "SLUICE_REDIS_PASSWORD": secrets.token_hex(24),
        "SLUICE_INTERNAL_TOKEN": secrets.token_urlsafe(32),
        "SLUICE_AUTH__API_KEYS": json.dumps({f"sk-{secrets.token_urlsafe(24)}": "default"}),
        "MINIO_ROOT_USER": "sluice",
        "MINIO_ROOT_PASSWORD": secrets.token_urlsafe(24),
        "GRAFANA_ADMIN_PASSWORD": secrets.token_urlsafe(18),
        # the models function's admin API (Authorization: Bearer): operators only
        "SLUICE_MODELS__ADMIN_KEY": secrets.token_urlsafe(32),
    }


def complete(path: Path) -> dict[str, str]:
    """Add the missing credentials to the env file at `path`; return those added."""
    path.parent.mkdir(parents=True, exist_ok=True)
    present = dotenv_values(path) if path.exists() else {}
    missing = {k: v for k, v in generated().items() if not present.get(k)}
    if missing:
        descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_APPEND, 0o600)
        with os.fdopen(descriptor, "a") as file:
            for name, value in missing.items():
                file.write(f"{name}='{value}'\n")  # single quotes: compose reads them literally
    os.chmod(path, 0o600)
    return missing


def main() -> None:
    """Complete the env file and say what was generated, and how compose reads it."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--path", type=Path, default=DEFAULT_PATH)
    args = parser.parse_args()
    added = complete(args.path)
    if not added:
        print(f"{args.path}: every credential is already set")
    else:
        print(f"{args.path}: generated {', '.join(added)}")
    print(f"start compose with: docker compose --env-file {_shown(args.path)} up -d --build")
    if "SLUICE_AUTH__API_KEYS" in added:
        (key,) = json.loads(added["SLUICE_AUTH__API_KEYS"])
        print(f"API key of tenant 'default': {key}  (send 'Authorization: Bearer <key>')")
    if "SLUICE_MODELS__ADMIN_KEY" in added:
        print(f"the models function's admin key is SLUICE_MODELS__ADMIN_KEY in {_shown(args.path)}")


def _shown(path: Path) -> str:
    """The path relative to the checkout when it is inside it."""
    try:
        return str(path.resolve().relative_to(ROOT))
    except ValueError:
        return str(path)


if __name__ == "__main__":
    main()
