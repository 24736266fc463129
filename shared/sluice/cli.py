"""The `sluice` command: serve a function, run a delivery worker or the queue exporter, list and
replay dead-lettered events, rebuild the document listing indexes."""

from __future__ import annotations

import argparse
import json
import os
import sys
from pathlib import Path

from sluice.errors import ConfigError


def main(argv: list[str] | None = None) -> int:
    """Entry point of the `sluice` console script."""
    parser = argparse.ArgumentParser(prog="sluice", description=__doc__)
    commands = parser.add_subparsers(dest="command", required=True)
    worker = commands.add_parser("worker", help="deliver queued events to the functions")
    worker.add_argument(
        "--queue",
        action="append",
        default=[],
        help="queue to work on (repeatable; default: every subscriber's)",
    )
    worker.add_argument(
        "--name",
        help="worker name prefix (a random suffix keeps names of restarted workers unique)",
    )
    worker.add_argument("--burst", action="store_true", help="exit when the queues are empty")
    _metrics_arguments(worker, required=False)
    serve = commands.add_parser(
        "serve", help="serve a function (functions-framework's app) on a hardened HTTP server"
    )
    serve.add_argument(
        "--source",
        default=os.environ.get("FUNCTION_SOURCE", "main.py"),
        help="the function's main.py (default: $FUNCTION_SOURCE, else main.py)",
    )
    serve.add_argument(
        "--target",
        default=os.environ.get("FUNCTION_TARGET"),
        required="FUNCTION_TARGET" not in os.environ,
        help="the function in it to serve (default: $FUNCTION_TARGET)",
    )
    serve.add_argument(
        "--host", default="127.0.0.1", help="default 127.0.0.1; 0.0.0.0 in a container"
    )
    serve.add_argument(
        "--port",
        type=int,
        default=int(os.environ.get("PORT", "8080")),
        help="default $PORT, else 8080",
    )
    serve.add_argument(
        "--threads",
        type=int,
        default=4 * (os.cpu_count() or 1),
        help="requests served at once (default 4 per CPU, as functions-framework's)",
    )
    exporter = commands.add_parser("exporter", help="serve RQ queue gauges read from Redis")
    exporter.add_argument(
        "--queue", action="append", default=[], help="queue to watch (default: every subscriber's)"
    )
    _metrics_arguments(exporter, required=True)
    dlq = commands.add_parser("dlq", help="the dead letter: events whose delivery failed for good")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_commands.add_parser("list", help="print failed deliveries, one JSON object a line")
    replay = dlq_commands.add_parser("replay", help="enqueue failed deliveries again")
    replay.add_argument(
        "job_ids", nargs="*", help="jobs to replay (see `sluice dlq --direct list`)"
    )
    replay.add_argument("--all", action="store_true", help="replay every failed delivery")
    documents = commands.add_parser("documents", help="maintenance of the document records")
    documents_commands = documents.add_subparsers(dest="documents_command", required=True)
    documents_commands.add_parser(
        "reindex",
        help="file every record in the listing indexes (once, after upgrading from a release "
        "without them; safe while the pipeline runs)",
    )
    args = parser.parse_args(argv)

    try:
        return _run(parser, args)
    except ConfigError as exc:
        print(f"sluice: {exc}", file=sys.stderr)
        return 2


def _run(parser: argparse.ArgumentParser, args: argparse.Namespace) -> int:
    if args.command == "serve":
        from sluice.serve import serve

        serve(Path(args.source), args.target, args.host, args.port, args.threads, "INFO")
        return 0
    if args.command == "worker":
        from sluice.rq.worker import WorkerContainer, run_worker

        run_worker(
            WorkerContainer(),
            args.queue,
            name=args.name,
            burst=args.burst,
            metrics_port=args.metrics_port,
            metrics_host=args.metrics_host,
        )
        return 0
    from sluice.containers import QueuesContainer

    container = QueuesContainer()
    config = container.config()
    if args.command == "exporter":
        from sluice.logs import configure_logging
        from sluice.rq.exporter import run_exporter

        configure_logging("exporter", config.logging.level)
        queues = args.queue or config.routing.queues()
        run_exporter(config.redis.url, queues, args.metrics_host, args.metrics_port)
        return 0
    try:
        if args.command == "documents":
            done = container.gateways.documents().backfill_index()
            print(
                f"filed {done.filed} documents; dropped {done.dropped} index entries "
                "whose record was gone",
                file=sys.stderr,
            )
            return 0
        dead_letters = container.dead_letters()
        if args.dlq_command == "list":
            for entry in dead_letters.entries():
                print(json.dumps(entry))
            return 0
        if not args.all and not args.job_ids:
            parser.error("dlq replay: name job ids or pass --all")
        replayed = dead_letters.replay(None if args.all else set(args.job_ids))
        print(f"replayed {replayed} deliveries", file=sys.stderr)
        return 0
    finally:
        container.shutdown_resources()


def _metrics_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address to serve /metrics on (default 127.0.0.1; 0.0.0.0 in a container)",
    )
    parser.add_argument(
        "--metrics-port", type=int, required=required, help="port to serve /metrics on"
    )


if __name__ == "__main__":
    sys.exit(main())
