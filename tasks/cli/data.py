"""The commands that read what a job stored: export (its records or its items), report
(one HTML file), and metrics (every job's numbers served to Prometheus)."""

from __future__ import annotations

import argparse
import signal
import sys
from collections.abc import Iterator
from contextlib import contextmanager

import redis

from pipeline.errors import ConfigError, JobNotFound
from pipeline.frontier import Frontier
from pipeline.settings import Settings
from pipeline.store import FORMATS, Store, export, export_items, open_store
from pipeline.urls import redact
from tasks.cli.flags import load_settings, setting_flag
from tasks.cli.local import redis_client
from tasks.cli.outcome import write_report


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    report = commands.add_parser("report", help="write a job's report: one HTML file with its numbers and charts")
    report.add_argument("--job", required=True)
    report.add_argument("--output", metavar="FILE", help="where to write it (default: report-JOB.html here)")
    report.set_defaults(run=cmd_report)

    exporter = commands.add_parser("export", help="write a job's records")
    exporter.add_argument("--job", required=True)
    exporter.add_argument("--format", choices=FORMATS, default="jsonl")
    exporter.add_argument("--output", metavar="FILE", help="file to write (default, or -: standard output)")
    exporter.add_argument("--items", action="store_true", help="export the extractors' items instead of the records")
    exporter.set_defaults(run=cmd_export)

    metrics = commands.add_parser("metrics", help="serve every job's numbers to Prometheus")
    setting_flag(metrics, "--bind", "metrics_bind", metavar="ADDRESS")
    setting_flag(metrics, "--port", "metrics_port", type=int, metavar="PORT")
    metrics.set_defaults(run=cmd_metrics)


@contextmanager
def _job_store(settings: Settings, job: str) -> Iterator[Store]:
    """The store, holding records of `job`, or JobNotFound."""
    store = open_store(settings.store_url)
    try:
        if store.count(job) == 0:
            raise JobNotFound(f"no records for job {job!r} in {redact(settings.store_url)}")
        yield store
    finally:
        store.close()


def cmd_report(args: argparse.Namespace) -> int:
    settings = load_settings()
    with _job_store(settings, args.job) as store:
        path = write_report(store, args.job, _frontier_dropped(settings, args.job), args.output)
    print(path)
    return 0


def _frontier_dropped(settings: Settings, job: str) -> dict[str, int]:
    """What each limit kept out of the job, when its frontier is at hand (it is not in the
    store); a report made where the frontier is not leaves it out."""
    try:
        with redis_client(settings) as (client, _):
            return Frontier(client, job).stats().dropped
    except (ConfigError, JobNotFound, redis.RedisError):
        return {}


def cmd_export(args: argparse.Namespace) -> int:
    settings = load_settings()
    with _job_store(settings, args.job) as store:
        what = "items" if args.items else "records"
        write = (lambda out: export_items(lambda: store.items(args.job), out, args.format)) if args.items else (
            lambda out: export(store.records(args.job), out, args.format)
        )
        if args.output and args.output != "-":
            with open(args.output, "w", encoding="utf-8", newline="") as out:
                count = write(out)
            print(f"exported {count} {what} to {args.output}", file=sys.stderr)
        else:
            write(sys.stdout)
    return 0


def cmd_metrics(args: argparse.Namespace) -> int:
    from prometheus_client import CollectorRegistry, start_http_server

    from tasks.cli.metrics import FrontierCollector

    settings = load_settings(metrics_bind=args.metrics_bind, metrics_port=args.metrics_port)
    with redis_client(settings) as (client, _):
        registry = CollectorRegistry()
        registry.register(FrontierCollector(client))
        server, _ = start_http_server(settings.metrics_port, settings.metrics_bind, registry=registry)
        print(f"serving metrics on http://{settings.metrics_bind}:{settings.metrics_port}/metrics; Ctrl-C stops",
              file=sys.stderr)
        try:
            while True:
                signal.pause()
        finally:
            server.shutdown()
