"""The rules compose.yaml must keep, checked on the configuration Compose itself resolves.

`docker compose config -q` (make check-compose) proves the file is valid Compose; this proves
it is the stack we promised (docs/compose.md): every service health-checked, start-up ordered
on health, state on named volumes, Redis persistent, workers given time for a warm shutdown,
and only ingest, searchapi and Grafana published, on 127.0.0.1 (the override may publish more,
still on 127.0.0.1).

With `--stage SERVICE DIR` it lays out, under DIR, the files a service's bind mounts put into
its container (as symbolic links to the repository's), so that a config can be checked where it
runs: check.sh runs `promtool check config` on the staged /etc/prometheus/prometheus.yml, which
proves that the rules it loads (`rule_files`) are where compose mounts them.

    uv run --frozen python tools/observability/compose_policy.py [-f compose.yaml ...]
    uv run --frozen python tools/observability/compose_policy.py --stage prometheus DIR
"""

from __future__ import annotations

import argparse
import json
import re
import subprocess
import sys
from pathlib import Path
from typing import Any

ROOT = Path(__file__).resolve().parents[2]
PUBLIC = {"ingest", "searchapi", "grafana"}
# Bind mounts allowed: the configuration (read-only: conf/observability/, and the dashboards and
# rules, whose only copy is the Helm chart's) and the Docker socket for Alloy.
BIND_ALLOWED = re.compile(
    r"^(conf/observability/.+|helm/sluice/files/(dashboards|rules)|/var/run/docker\.sock)$"
)
JOB_TIMEOUT_SECONDS = 120  # routing.subscribers.*.timeout_seconds
REQUIRED = set(
    "ingest transform index embed worker exporter searchapi redis milvus prometheus grafana "
    "loki alloy".split()
)


def resolved(files: list[str]) -> dict[str, Any]:
    """The project as Compose resolves it (anchors, merges, interpolation, overrides)."""
    command = [
        "docker-compose",
        *[a for f in files for a in ("-f", f)],
        "config",
        "--format",
        "json",
    ]
    result = subprocess.run(command, cwd=ROOT, capture_output=True, text=True, check=False)
    if result.returncode != 0:
        sys.exit(f"docker compose config failed:\n{result.stderr}")
    project: dict[str, Any] = json.loads(result.stdout)
    return project


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
        for volume in service.get("volumes", []):
            if volume["type"] == "bind":
                source = volume["source"].removeprefix(f"{ROOT}/")
                if not BIND_ALLOWED.match(source) or not volume.get("read_only"):
                    found.append(f"{name}: bind mount {source} (state belongs in named volumes)")
    services = project["services"]
    if "--appendonly" not in services.get("redis", {}).get("command", []):
        found.append("redis: persistence (--appendonly yes) is off")
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
    args = parser.parse_args()
    if args.stage:
        service, root = args.stage
        for link in stage(resolved(args.files or ["compose.yaml"]), service, Path(root)):
            print(f"{link} -> {link.resolve().relative_to(ROOT)}")
        return 0
    both = ["compose.yaml", "compose.override.yaml"]
    runs = [args.files] if args.files else [["compose.yaml"], both]
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
