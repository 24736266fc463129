"""The local stack on 127.0.0.1: Redis, milvus-lite, the three functions, the RQ workers, the
queue exporter and the Go search service (built with `go build` on the way up).

    python -m dev.stack up      start everything (logs and data under .sluice/), wait until ready
    python -m dev.stack down    stop everything started from the same folder
    python -m dev.stack status  show what runs

Processes are detached (their own session), so they outlive `make up`; their pids are kept in
`<dir>/run/`. Tests use `Stack` directly, on free ports and a temporary folder.
"""

from __future__ import annotations

import argparse
import contextlib
import json
import os
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import time
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

import httpx
import yaml
from redis import Redis
from redis.exceptions import RedisError
from rq import Worker

from sluice.processes import alive
from sluice.settings import QueuesConfig, load_settings
from sluice.settings.loading import CONF_DIR_VARIABLE

ROOT = Path(__file__).resolve().parent.parent
BIN = Path(sys.executable).parent
FUNCTIONS = ("ingest", "transform", "index", "embed", "models")  # functions/<name>/main.py
HTTP_SERVICES = (*FUNCTIONS, "searchapi")
DEFAULT_PORTS = {
    "redis": 6379,
    "milvus": 19530,
    "ingest": 8081,
    "transform": 8082,
    "index": 8083,
    "embed": 8084,
    "models": 8086,
    "searchapi": 8080,
    "exporter": 9100,  # the workers' /metrics follow: 9101, 9102, ... (see worker_names)
    "prometheus": 9090,  # only with Stack(prometheus=True)
}
SCRAPE_CONFIG = ROOT / "conf" / "observability" / "prometheus" / "prometheus.yml"
MODELS_DIR = ROOT / ".sluice" / "models"
DEFAULT_MODEL = "all-MiniLM-L6-v2"  # conf/sluice.yaml's embedder.model
SECRETS = ("redis_password", "internal_token", "admin_key")


def stack_secrets(directory: Path) -> dict[str, str]:
    """The stack's credentials, generated on first use and kept in `<dir>/secrets/` (owner
    only): the Redis password every client sends, the internal token the workers and
    searchapi present to transform, index and embed, and the models function's admin key."""
    folder = directory / "secrets"
    folder.mkdir(parents=True, exist_ok=True, mode=0o700)
    values = {}
    for name in SECRETS:
        path = folder / name
        if not path.exists():
            descriptor = os.open(path, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
            with os.fdopen(descriptor, "w") as file:
                file.write(secrets.token_urlsafe(32))
        values[name] = path.read_text().strip()
    redis_conf = folder / "redis.conf"  # the password stays off redis-server's command line
    if not redis_conf.exists():
        descriptor = os.open(redis_conf, os.O_WRONLY | os.O_CREAT | os.O_EXCL, 0o600)
        with os.fdopen(descriptor, "w") as file:
            file.write(f"requirepass {values['redis_password']}\n")
    return values


def subscriber_queues() -> dict[str, str]:
    """Each subscriber of the routing table (`conf/routing.yaml`) and its RQ queue."""
    os.environ.setdefault(CONF_DIR_VARIABLE, str(ROOT / "conf"))
    routing = load_settings(QueuesConfig).routing
    return {name: subscriber.queue for name, subscriber in routing.subscribers.items()}


def worker_names(transform_workers: int) -> list[str]:
    """The delivery workers (`worker-<subscriber>-<n>`) of a stack with that many transform
    workers; one for every other subscriber (milvus-lite wants one writer)."""
    return [
        f"worker-{subscriber}-{n}"
        for subscriber in subscriber_queues()
        for n in range(1, (transform_workers if subscriber == "transform" else 1) + 1)
    ]


def free_ports(names: list[str]) -> dict[str, int]:
    """A distinct free TCP port on 127.0.0.1 per name (all bound at once: none twice)."""
    with contextlib.ExitStack() as bound:
        sockets = [bound.enter_context(socket.socket()) for _ in names]
        for sock in sockets:
            sock.bind(("127.0.0.1", 0))
        return {name: sock.getsockname()[1] for name, sock in zip(names, sockets, strict=True)}


def free_port() -> int:
    """A TCP port nobody listens on right now."""
    return free_ports(["port"])["port"]


@dataclass
class Stack:
    """A set of local processes sharing one folder for logs, data and pid files.

    `ports` maps every process to its port (the workers serve their /metrics there); those it
    does not name get the defaults, the workers the ports after the exporter's. `free_ports`
    makes a stack on ports nobody uses. `up` records the ports in `<dir>/run/ports.json`, where
    `Stack.of` finds them again.
    """

    directory: Path
    ports: dict[str, int] = field(default_factory=dict)
    transform_workers: int = 0  # 0: 1 with the model (it uses every core), else 2
    extra_env: dict[str, str] = field(default_factory=dict)
    embedder: str = DEFAULT_MODEL  # a catalogue name (sluice.embedders.catalogue)
    # A Prometheus scraping every process (5 s), for searchapi's /v1/ops (the console's
    # operations page); off in most tests. `make up` runs one when the binary is installed.
    prometheus: bool = False

    def __post_init__(self) -> None:
        if self.transform_workers <= 0:
            self.transform_workers = 1 if self.embedder != "hashing" else 2
        self.workers = worker_names(self.transform_workers)
        self.exits: dict[str, str] = {}  # how a process this object started and reaped ended
        self.ports = {**DEFAULT_PORTS, **self.ports}
        for offset, name in enumerate(self.workers, start=1):
            self.ports.setdefault(name, self.ports["exporter"] + offset)

    def on_free_ports(self) -> Stack:
        """This stack with every port replaced by a free one."""
        self.ports = free_ports(list(self.ports))
        return self

    @classmethod
    def of(cls, directory: Path, **settings: object) -> Stack:
        """The stack of a folder, on the ports its last `up` recorded (defaults if none)."""
        recorded = directory / "run" / "ports.json"
        ports = json.loads(recorded.read_text()) if recorded.exists() else {}
        return cls(directory, ports, **settings)  # type: ignore[arg-type]

    @property
    def secrets(self) -> dict[str, str]:
        """The stack's credentials (`stack_secrets`)."""
        return stack_secrets(self.directory)

    def url(self, name: str) -> str:
        """Base URL of a function (or the Milvus URI, or the Redis URL with its password)."""
        if name == "redis":
            password = self.secrets["redis_password"]
            return f"redis://:{password}@127.0.0.1:{self.ports['redis']}/0"
        return f"http://127.0.0.1:{self.ports[name]}"

    def admin_headers(self) -> dict[str, str]:
        """What a caller of the models function's admin API presents (the admin key)."""
        return {"Authorization": f"Bearer {self.secrets['admin_key']}"}

    def internal_headers(self) -> dict[str, str]:
        """What a caller of transform, index or embed presents (the internal token)."""
        return {"Authorization": f"Bearer {self.secrets['internal_token']}"}

    def env(self) -> dict[str, str]:
        """The environment every process gets: where everything is."""
        return {
            **os.environ,
            "SLUICE_CONF_DIR": str(ROOT / "conf"),
            "SLUICE_REDIS__URL": self.url("redis"),
            "SLUICE_INTERNAL__TOKEN": self.secrets["internal_token"],
            "SLUICE_MODELS__ADMIN_KEY": self.secrets["admin_key"],
            "SLUICE_MILVUS__URI": self.url("milvus"),
            "SLUICE_INGEST__PUBLIC_URL": self.url("ingest"),
            "SLUICE_ROUTING__SUBSCRIBERS__TRANSFORM__URL": self.url("transform") + "/",
            "SLUICE_ROUTING__SUBSCRIBERS__INDEX__URL": self.url("index") + "/",
            "SLUICE_SEARCHAPI__HOST": "127.0.0.1",
            "SLUICE_SEARCHAPI__PORT": str(self.ports["searchapi"]),
            "SLUICE_EMBEDDER__MODEL": self.embedder,
            "SLUICE_EMBEDDER__MODELS_DIR": str(MODELS_DIR),
            "SLUICE_EMBEDDER__URL": self.url("embed") + "/v1/embeddings",
            "SLUICE_SEARCHAPI__INGEST_URL": self.url("ingest"),
            "SLUICE_SEARCHAPI__PROMETHEUS_URL": self.url("prometheus") if self.prometheus else "",
            "PYTHONUNBUFFERED": "1",
            **self.extra_env,
        }

    def commands(self) -> dict[str, list[str]]:
        """Every process by name, in start order."""
        data = self.directory / "data"
        commands = {
            "redis": [
                _redis_server(),
                str(self.directory / "secrets" / "redis.conf"),  # requirepass
                "--bind",
                "127.0.0.1",
                "--port",
                str(self.ports["redis"]),
                "--dir",
                str(data / "redis"),
                "--appendonly",
                "yes",
                # fsync each write: a record acknowledged with 202 survives a kill -9 of Redis
                "--appendfsync",
                "always",
                "--save",
                "",
            ],
            "milvus": [
                str(BIN / "milvus-lite"),
                "server",
                "--data-dir",
                str(data / "milvus"),
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports["milvus"]),
            ],
        }
        for name in FUNCTIONS:
            commands[name] = [
                str(BIN / "sluice"),
                "serve",
                "--source",
                str(ROOT / "functions" / name / "main.py"),
                "--target",
                name,
                "--host",
                "127.0.0.1",
                "--port",
                str(self.ports[name]),
            ]
        for name in self.workers:
            commands[name] = self.worker_command(name)
        commands["exporter"] = [
            str(BIN / "sluice"),
            "exporter",
            "--metrics-host",
            "127.0.0.1",
            "--metrics-port",
            str(self.ports["exporter"]),
        ]
        if self.prometheus:
            commands["prometheus"] = [
                _prometheus_server(),
                f"--config.file={self.directory / 'run' / 'prometheus.yml'}",
                f"--storage.tsdb.path={data / 'prometheus'}",
                "--storage.tsdb.retention.time=1d",
                f"--web.listen-address=127.0.0.1:{self.ports['prometheus']}",
                "--log.level=warn",
            ]
        commands["searchapi"] = [str(self.searchapi_binary())]
        return commands

    def scrape_configs(self) -> list[dict[str, Any]]:
        """The Sluice jobs of the compose scrape config (`conf/observability/prometheus/`),
        aimed at this stack's metric endpoints (static targets instead of compose's DNS
        names); the observability stack's own jobs are left out, and so is a job none of whose
        processes this stack runs (embed, with the hashing embedder)."""
        urls = self.metrics_urls()
        processes = {"worker": self.workers}
        jobs = []
        for job in yaml.safe_load(SCRAPE_CONFIG.read_text())["scrape_configs"]:
            name = job["job_name"]
            if not name.startswith("sluice-"):
                continue
            members = processes.get(name.removeprefix("sluice-"), [name.removeprefix("sluice-")])
            found = [urlsplit(urls[m]) for m in members if m in urls]
            if not found:
                continue
            scraped = {k: v for k, v in job.items() if not k.endswith("_sd_configs")}
            scraped.pop("static_configs", None)
            scraped["metrics_path"] = found[0].path
            scraped["static_configs"] = [{"targets": [u.netloc for u in found]}]
            jobs.append(scraped)
        return jobs

    def write_prometheus_config(self) -> None:
        """`<dir>/run/prometheus.yml`: every process of the stack, scraped every 5 s."""
        real = yaml.safe_load(SCRAPE_CONFIG.read_text())
        config = {
            "global": {
                **real["global"],
                "scrape_interval": "5s",
                "evaluation_interval": "5s",
                "external_labels": {"stack": "sluice-local"},
            },
            "scrape_configs": self.scrape_configs(),
        }
        path = self.directory / "run" / "prometheus.yml"
        path.write_text(yaml.safe_dump(config, sort_keys=False))

    def searchapi_binary(self) -> Path:
        """Where `up` builds the Go search service."""
        return self.directory / "bin" / "searchapi"

    def build_searchapi(self) -> None:
        """`go build` the search service (quick when nothing changed)."""
        go = shutil.which("go")
        if go is None:
            raise SystemExit("go is not installed: searchapi needs Go 1.26 (see README)")
        result = subprocess.run(
            [go, "build", "-o", str(self.searchapi_binary()), "./cmd/searchapi"],
            cwd=ROOT / "searchapi",
            capture_output=True,
            text=True,
            check=False,
        )
        if result.returncode != 0:
            raise SystemExit(f"building searchapi failed:\n{result.stderr}")

    def worker_command(self, name: str) -> list[str]:
        """A delivery worker (`worker-<subscriber>-<n>`) on its subscriber's queue, serving its
        metrics on its own port."""
        _, subscriber, number = name.split("-")
        return [
            str(BIN / "sluice"),
            "worker",
            "--queue",
            subscriber_queues()[subscriber],
            "--name",
            f"{subscriber}-{number}",
            "--metrics-host",
            "127.0.0.1",
            "--metrics-port",
            str(self.ports[name]),
        ]

    def metrics_urls(self) -> dict[str, str]:
        """Every process serving Prometheus metrics, by name: the URL of its /metrics."""
        names = [*HTTP_SERVICES, *self.workers, "exporter"]
        commands = self.commands()
        return {name: f"{self.url(name)}/metrics" for name in names if name in commands}

    def up(self) -> None:
        """Start every process that is not running, each once the one before is ready; all or
        nothing: if one fails, those this call started are stopped again."""
        for sub in ("data/redis", "data/milvus", "data/prometheus", "logs", "run"):
            (self.directory / sub).mkdir(parents=True, exist_ok=True)
        (self.directory / "run" / "ports.json").write_text(json.dumps(self.ports))
        if self.prometheus:
            self.write_prometheus_config()
        self.build_searchapi()
        started: list[str] = []
        try:
            for name, command in self.commands().items():
                if self.pid(name) is None:
                    started.append(name)
                    self.start(name, command)
                    self.wait_ready(name)
        except SystemExit as failure:
            for name in reversed(started):
                self.stop(name)
            raise SystemExit(
                f"{failure}\n(stopped again what this start had started: {', '.join(started)})"
            ) from None

    def start(self, name: str, command: list[str] | None = None) -> None:
        """Start one process, detached, logging to `<dir>/logs/<name>.log`."""
        command = command or self.commands()[name]
        port = self.ports.get(name)
        if port is not None and _port_open(port):
            raise SystemExit(
                f"port {port} for {name} is already in use: stop what holds it "
                f"or choose another port"
            )
        log = (self.directory / "logs" / f"{name}.log").open("ab")
        env = self.env()
        if name == "milvus":  # a crash in its native code says where, instead of nothing
            env["PYTHONFAULTHANDLER"] = "1"
        process = subprocess.Popen(
            command,
            cwd=ROOT,
            env=env,
            stdout=log,
            stderr=log,
            stdin=subprocess.DEVNULL,
            start_new_session=True,
            preexec_fn=_default_sigint,
        )
        (self.directory / "run" / f"{name}.pid").write_text(str(process.pid))

    def wait_ready(self, name: str, timeout: float = 60.0) -> None:
        """Block until the process answers (port, or /readyz for functions)."""
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.pid(name) is None:
                how = self.exits.get(name, "")
                raise SystemExit(
                    f"{name} (port {self.ports.get(name)}) exited at start{how and f' ({how})'}; "
                    f"see {self.log_path(name)}:\n" + _tail(self.log_path(name))
                )
            if self.is_ready(name):
                return
            time.sleep(0.2)
        raise SystemExit(f"{name} not ready after {timeout:.0f} s; see {self.log_path(name)}")

    def is_ready(self, name: str) -> bool:
        """Whether a process answers (workers: once RQ listens on their queue)."""
        path = {
            **dict.fromkeys(HTTP_SERVICES, "/readyz"),
            "exporter": "/metrics",
            "prometheus": "/-/ready",
        }.get(name)
        if path is not None:
            try:
                return httpx.get(self.url(name) + path, timeout=2).status_code == 200
            except httpx.HTTPError:
                return False
        if name.startswith("worker-"):
            return self._rq_worker_registered(name)
        return _port_open(self.ports[name])

    def _rq_worker_registered(self, name: str) -> bool:
        """Whether the running process of a worker is in RQ's registry of live workers (not a
        line an earlier, dead worker left in the log)."""
        pid = self.pid(name)
        try:
            with Redis.from_url(self.url("redis"), socket_timeout=2) as redis:
                return any(worker.pid == pid for worker in Worker.all(connection=redis))
        except RedisError:
            return False

    def pid(self, name: str) -> int | None:
        """The pid of a running process of this stack, or None."""
        path = self.directory / "run" / f"{name}.pid"
        if not path.exists():
            return None
        pid = int(path.read_text())
        try:
            waited, status = os.waitpid(pid, os.WNOHANG)
        except ChildProcessError:
            waited = 0
        if waited == pid:
            self.exits[name] = _describe_exit(status)
        if waited == pid or not alive(pid):
            path.unlink(missing_ok=True)
            return None
        return pid

    def stop(self, name: str, timeout: float = 15.0) -> None:
        """Stop one process: SIGINT for milvus-lite (its clean shutdown), SIGTERM otherwise."""
        pid = self.pid(name)
        if pid is None:
            return
        os.killpg(pid, signal.SIGINT if name == "milvus" else signal.SIGTERM)
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline and self.pid(name) is not None:
            time.sleep(0.1)
        if self.pid(name) is not None:
            with contextlib.suppress(ProcessLookupError):
                os.killpg(pid, signal.SIGKILL)
            time.sleep(0.2)
            self.pid(name)

    def kill(self, name: str) -> None:
        """SIGKILL a process and its group, as a crash would; return once all are gone."""
        pid = self.pid(name)
        if pid is not None:
            os.killpg(pid, signal.SIGKILL)
            while self.pid(name) is not None:
                time.sleep(0.05)
            # Forked children die with it; bounded, as an unreaped zombie still counts as alive.
            deadline = time.monotonic() + 5
            while _group_alive(pid) and time.monotonic() < deadline:
                time.sleep(0.05)

    def down(self) -> None:
        """Stop everything: workers first, Redis last."""
        names = (
            [p.stem for p in (self.directory / "run").glob("*.pid")]
            if (self.directory / "run").exists()
            else []
        )
        order = {"redis": 3, "milvus": 2, **dict.fromkeys(HTTP_SERVICES, 1)}
        for name in sorted(names, key=lambda n: order.get(n, 0)):
            self.stop(name)

    def log_path(self, name: str) -> Path:
        """Where a process logs."""
        return self.directory / "logs" / f"{name}.log"

    def status(self) -> dict[str, int | None]:
        """Every known process and its pid (None: not running)."""
        return {name: self.pid(name) for name in self.commands()}


def _redis_server() -> str:
    found = shutil.which("redis-server")
    if found is None:
        raise SystemExit("redis-server is not installed (apt-get install -y redis-server)")
    return found


def _prometheus_server() -> str:
    found = shutil.which("prometheus")
    if found is None:
        raise SystemExit(
            "the prometheus server is not installed: `make observability-tools` installs it "
            "(Debian's prometheus package)"
        )
    return found


def _default_sigint() -> None:
    # A launcher started in the background may ignore SIGINT; milvus-lite needs it to stop.
    signal.signal(signal.SIGINT, signal.SIG_DFL)


def _port_open(port: int) -> bool:
    with socket.socket() as sock:
        sock.settimeout(0.5)
        return sock.connect_ex(("127.0.0.1", port)) == 0


def _group_alive(pgid: int) -> bool:
    """Whether a process of the group still runs (a forked child, e.g. RQ's scheduler)."""
    try:
        os.killpg(pgid, 0)
    except ProcessLookupError:
        return False
    return True


def _describe_exit(status: int) -> str:
    """A wait status in words: `exit code 1`, `killed by SIGSEGV`."""
    if os.WIFSIGNALED(status):
        return f"killed by {signal.Signals(os.WTERMSIG(status)).name}"
    return f"exit code {os.waitstatus_to_exitcode(status)}"


def _tail(path: Path, lines: int = 20) -> str:
    try:
        return "\n".join(path.read_text(errors="replace").splitlines()[-lines:])
    except OSError:
        return ""


def main() -> None:
    """`python -m dev.stack up|down|status`."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("command", choices=["up", "down", "status"])
    parser.add_argument("--dir", default=str(ROOT / ".sluice"), help="logs, data and pid files")
    for name, port in DEFAULT_PORTS.items():
        parser.add_argument(f"--{name}-port", type=int, default=port)
    parser.add_argument(
        "--transform-workers",
        type=int,
        default=0,
        help="RQ workers delivering to transform (default: 1 with the model, "
        "whose batches already use every core; 2 with hashing)",
    )
    parser.add_argument(
        "--embedder",
        default=DEFAULT_MODEL,
        help=f"the model the first collection is built with (default {DEFAULT_MODEL}, which "
        "`make model` exports; hashing: tiny); docs/models.md lists the others",
    )
    parser.add_argument(
        "--prometheus",
        action=argparse.BooleanOptionalAction,
        default=shutil.which("prometheus") is not None,
        help="run a Prometheus scraping every process, for the console's operations page "
        "(default: when the prometheus binary is installed; `make observability-tools`)",
    )
    args = parser.parse_args()
    ports = {name: getattr(args, f"{name}_port") for name in DEFAULT_PORTS}
    stack = Stack(
        Path(args.dir),
        ports,
        args.transform_workers,
        embedder=args.embedder,
        prometheus=args.prometheus,
    )
    if args.command == "up":
        stack.up()
        print(f"Sluice is up (logs and data in {stack.directory}):")
        print(f"  {'console':<10} {stack.url('searchapi')}/   <- open this in a browser")
        for name in HTTP_SERVICES:
            if name in stack.commands():
                print(f"  {name:<10} {stack.url(name)}")
        redis = stack.url("redis").replace(stack.secrets["redis_password"], "***")
        print(f"  {'milvus':<10} {stack.url('milvus')}\n  {'redis':<10} {redis}")
        if stack.prometheus:
            print(f"  {'prometheus':<10} {stack.url('prometheus')}")
        print(f"Credentials (generated on the first `make up`): {stack.directory / 'secrets'}")
        print("Prometheus metrics:")
        for name, url in stack.metrics_urls().items():
            print(f"  {name:<18} {url}")
        print(f"Try: curl -s '{stack.url('searchapi')}/v1/search?q=water+wheel'")
        print(
            "Change the model: sluice models migrate --to <model> "
            f"(admin key: {stack.directory / 'secrets' / 'admin_key'}; docs/model-changes.md)"
        )
    elif args.command == "down":
        stack.down()
        print("Sluice is down.")
    else:
        for name, pid in stack.status().items():
            print(f"{name:<20} {'running, pid ' + str(pid) if pid else 'stopped'}")


if __name__ == "__main__":
    main()
