"""Cold start of the model functions: process start -> ready to answer, model loaded.

Starts transform and the embedding endpoint (transform's `embed` target) under
functions-framework, as the stack does, several times each, and times from the process start
to the first 200 from /readyz (whose probe loads the model into the serving process), then to
the first answered embedding request. Needs Redis on the configured URL for transform's
readiness (`make up` provides one; or `redis-server --port 6379 --save ''`).

    uv run --frozen python bench/cold_start.py [--runs 5]
"""

from __future__ import annotations

import argparse
import os
import signal
import statistics
import subprocess
import sys
import time
from pathlib import Path

import httpx

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from dev.stack import BIN, DEFAULT_MODEL, MODELS_DIR, free_port  # noqa: E402

TARGETS = ("transform", "embed")


def one_start(target: str) -> tuple[float, float]:
    """Seconds to ready and to the first answer for one fresh process."""
    port = free_port()
    env = {
        **os.environ,
        "SLUICE_CONF_DIR": str(ROOT / "conf"),
        "SLUICE_EMBEDDER__MODEL": DEFAULT_MODEL,
        "SLUICE_EMBEDDER__MODELS_DIR": str(MODELS_DIR),
    }
    command = [
        str(BIN / "functions-framework"),
        "--source",
        str(ROOT / "functions" / target / "main.py"),
        "--target",
        target,
        "--host",
        "127.0.0.1",
        "--port",
        str(port),
    ]
    started = time.perf_counter()
    process = subprocess.Popen(
        command,
        env=env,
        stdout=subprocess.DEVNULL,
        stderr=subprocess.DEVNULL,
        start_new_session=True,
    )
    base = f"http://127.0.0.1:{port}"
    deadline = started + 60
    try:
        while True:
            if process.poll() is not None:
                raise SystemExit(f"{target} exited at start (is the model built? Redis up?)")
            if time.perf_counter() > deadline:
                raise SystemExit(f"{target} not ready after 60 s (is Redis up on its URL?)")
            try:
                if httpx.get(base + "/readyz", timeout=5).status_code == 200:
                    break
            except httpx.HTTPError:
                pass
            time.sleep(0.02)
        ready = time.perf_counter() - started
        if target == "embed":
            answer = httpx.post(base + "/v1/embeddings", json={"input": "a query"}, timeout=10)
            answer.raise_for_status()
        return ready, time.perf_counter() - started
    finally:
        os.killpg(process.pid, signal.SIGTERM)
        process.wait(timeout=15)


def main() -> None:
    """Time every target `--runs` times and print the medians."""
    parser = argparse.ArgumentParser(
        description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter
    )
    parser.add_argument("--runs", type=int, default=5)
    args = parser.parse_args()
    for target in TARGETS:
        runs = [one_start(target) for _ in range(args.runs)]
        ready = [r for r, _ in runs]
        first = [f for _, f in runs]
        print(
            f"{target:<10} ready median {statistics.median(ready):.2f} s, first answer median "
            f"{statistics.median(first):.2f} s  (runs: {', '.join(f'{r:.2f}' for r in ready)})"
        )
    print(f"load average now: {' '.join(f'{x:.2f}' for x in os.getloadavg())}")


if __name__ == "__main__":
    main()
