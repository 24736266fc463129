"""The `sluice` command: run a delivery worker or the queue exporter, list and replay
dead-lettered events."""

from __future__ import annotations

import argparse
import json
import sys

from redis import Redis
from rq import Queue
from rq.job import Job
from rq.registry import FailedJobRegistry

from sluice.errors import ConfigError
from sluice.settings import Settings, load_settings


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
    exporter = commands.add_parser("exporter", help="serve RQ queue gauges read from Redis")
    exporter.add_argument(
        "--queue", action="append", default=[], help="queue to watch (default: every subscriber's)"
    )
    _metrics_arguments(exporter, required=True)
    dlq = commands.add_parser("dlq", help="the dead letter: events whose delivery failed for good")
    dlq_commands = dlq.add_subparsers(dest="dlq_command", required=True)
    dlq_commands.add_parser("list", help="print failed deliveries, one JSON object a line")
    replay = dlq_commands.add_parser("replay", help="enqueue failed deliveries again")
    replay.add_argument("job_ids", nargs="*", help="jobs to replay (see `sluice dlq list`)")
    replay.add_argument("--all", action="store_true", help="replay every failed delivery")
    args = parser.parse_args(argv)

    try:
        settings = load_settings()
    except ConfigError as exc:
        print(f"sluice: {exc}", file=sys.stderr)
        return 2
    if args.command == "worker":
        from sluice.worker import run_worker

        run_worker(
            settings,
            args.queue,
            name=args.name,
            burst=args.burst,
            metrics_port=args.metrics_port,
            metrics_host=args.metrics_host,
        )
        return 0
    if args.command == "exporter":
        from sluice.exporter import run_exporter
        from sluice.logs import configure_logging

        configure_logging("exporter", settings.logging.level)
        queues = args.queue or [s.queue for s in settings.routing.subscribers.values()]
        run_exporter(settings.redis.url, queues, args.metrics_host, args.metrics_port)
        return 0
    if args.dlq_command == "list":
        for entry in failed_deliveries(settings):
            print(json.dumps(entry))
        return 0
    if not args.all and not args.job_ids:
        parser.error("dlq replay: name job ids or pass --all")
    replayed = replay_failed(settings, None if args.all else set(args.job_ids))
    print(f"replayed {replayed} deliveries", file=sys.stderr)
    return 0


def _metrics_arguments(parser: argparse.ArgumentParser, *, required: bool) -> None:
    parser.add_argument(
        "--metrics-host",
        default="127.0.0.1",
        help="address to serve /metrics on (default 127.0.0.1; 0.0.0.0 in a container)",
    )
    parser.add_argument(
        "--metrics-port", type=int, required=required, help="port to serve /metrics on"
    )


def _registries(settings: Settings) -> list[FailedJobRegistry]:
    redis = Redis.from_url(settings.redis.url)
    names = sorted({s.queue for s in settings.routing.subscribers.values()})
    return [FailedJobRegistry(queue=Queue(name, connection=redis)) for name in names]


def failed_deliveries(settings: Settings) -> list[dict[str, object]]:
    """Every dead-lettered event: its job, document, and the job's last error line."""
    entries: list[dict[str, object]] = []
    for registry in _registries(settings):
        for job in Job.fetch_many(registry.get_job_ids(), connection=registry.connection):
            if job is None:
                continue
            result = job.latest_result()
            error = ((result.exc_string if result is not None else "") or "").strip()
            for event in job.meta.get("events", []):
                entries.append(
                    {
                        "job_id": job.id,
                        "queue": registry.name,
                        "subscriber": job.meta.get("subscriber"),
                        **event,
                        "failed_at": job.ended_at.isoformat() if job.ended_at else None,
                        "error": error.splitlines()[-1] if error else "",
                    }
                )
    return entries


def replay_failed(settings: Settings, job_ids: set[str] | None) -> int:
    """Put failed deliveries back on their queues with a fresh retry budget."""
    replayed = 0
    for registry in _registries(settings):
        for job_id in registry.get_job_ids():
            if job_ids is not None and job_id not in job_ids:
                continue
            job = Job.fetch(job_id, connection=registry.connection)
            job.retries_left = len(job.retry_intervals or [])
            job.save()
            registry.requeue(job_id)
            replayed += 1
    return replayed


if __name__ == "__main__":
    sys.exit(main())
