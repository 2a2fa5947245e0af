"""The `crawler` command: crawl, seed, recrawl, status, export, pause, resume, cancel.

Bad input ends in a one-line message and a non-zero exit, never a traceback. The
Celery app is imported only after the Redis URL is known (it may be an embedded Redis
started here), because the app takes its configuration from the environment.
"""

from __future__ import annotations

import argparse
import json
import os
import re
import signal
import sys
import time
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from pathlib import Path
from typing import Any

import redis
from amqp.exceptions import AMQPError
from kombu.exceptions import KombuError
from rich.console import Console

from pipeline import __version__
from pipeline.crawl import lifecycle
from pipeline.crawl.context import Context
from pipeline.errors import ConfigError, CrawlError, JobNotFound
from pipeline.frontier.client import (
    CANCELLED,
    FINISHED,
    PAUSED,
    RUNNING,
    Frontier,
    JobStats,
    list_jobs,
)
from pipeline.settings import Settings
from pipeline.store import Store, open_store
from pipeline.store.base import DueCounts
from pipeline.store.export import FORMATS, export, export_items
from pipeline.urls import hostname, require_canonical
from tasks.cli.flags import add_policy_flags, load_settings, policy_flags, positive, seconds
from tasks.cli.lifeline import RunLock
from tasks.cli.local import LocalWorkers, demo_server, redis_client, redis_for_crawl, start_workers
from tasks.cli.outcome import report_after_crawl, summary, unfetched_seeds, write_report
from tasks.cli.progress import (
    Display,
    backoff_lines,
    bloom_warning,
    busiest,
    limit_lines,
    line,
    revisit_line,
    watch,
)

DEMO_JOB = "demo"
# The demo site is ours and local: no need to be gentle with it.
DEMO_POLICY = {"allow_private": True, "delay": 0.0, "host_concurrency": 4, "sitemaps": True}
EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130
# Paused hosts listed by `crawler status --job`, longest pause first.
BACKOFFS_SHOWN = 10
# Seconds between looks at whether the job has ended, between two ticks.
END_POLL_SECONDS = 0.1


def main(argv: list[str] | None = None) -> int:
    args = _parser().parse_args(argv)
    signal.signal(signal.SIGTERM, _interrupt)
    signal.signal(signal.SIGHUP, _interrupt)
    try:
        return args.run(args)
    except ConfigError as exc:
        return _fail(str(exc), EXIT_USAGE)
    except BrokenPipeError:
        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
        return 0
    except (CrawlError, redis.RedisError, OSError, KombuError, AMQPError) as exc:
        return _fail(str(exc) or type(exc).__name__, EXIT_ERROR)
    except KeyboardInterrupt:
        return _fail("interrupted", EXIT_INTERRUPTED)


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM and SIGHUP (a closed terminal) stop as cleanly as Ctrl-C: workers
    finish, the embedded Redis saves, nothing is left running."""
    raise KeyboardInterrupt


def _fail(message: str, code: int) -> int:
    print(f"crawler: error: {message}", file=sys.stderr)
    return code


# --- commands -------------------------------------------------------------------------


def cmd_crawl(args: argparse.Namespace) -> int:
    policy = policy_flags(args)
    settings = load_settings(workers=args.workers, proxies=args.proxy, warc_dir=args.warc, **policy)
    seeds = [require_canonical(url) for url in args.seeds]
    console = Console(stderr=True, soft_wrap=True)
    if settings.proxies:
        os.environ["CRAWLER_PROXIES"] = ",".join(settings.proxies)
    if args.warc:
        os.environ["CRAWLER_WARC_DIR"] = str(Path(args.warc).resolve())
    with ExitStack() as stack:
        if args.demo:
            server = stack.enter_context(demo_server())
            seeds.append(server.url)
            for name, value in DEMO_POLICY.items():
                policy.setdefault(name, value)
        job = args.job or (DEMO_JOB if args.demo else _job_name(seeds))
        open_store(settings.store_url).close()
        lock = stack.enter_context(RunLock(settings.data_dir))
        redis_url, embedded = redis_for_crawl(settings, stack, lock)
        os.environ["CRAWLER_REDIS_URL"] = redis_url
        from tasks.app import runtime
        from tasks.resume import resume_in_flight
        from tasks.seeding import seed

        context = runtime()
        frontier = context.frontier(job)
        if not seeds and not frontier.exists():
            raise ConfigError("give at least one seed URL (or --demo, or --job of an existing job)")
        if args.recrawl and not frontier.exists():
            raise ConfigError(f"nothing to recrawl: job {job!r} has not run yet (drop --recrawl)")
        if args.restart:
            _restart(context, frontier, seeds, args.recrawl, console)
        was_finished = frontier.state() == FINISHED
        if embedded and not settings.broker_url:
            # What the earlier run left in flight is in the embedded Redis's queues.
            resume_in_flight(context)
        workers = start_workers(settings, stack, lock)
        if args.recrawl:
            due = lifecycle.recrawl(context, job)
            console.print(f"recrawling job {job!r}: {due} stored URLs due again", highlight=False)
        if seeds:
            seed(seeds, job=job, **policy)
        if frontier.state() == PAUSED:
            frontier.set_state(RUNNING)
        if was_finished and frontier.state() == FINISHED:
            console.print(
                f"job {job!r} had already finished, and nothing new was seeded: --recrawl revisits its pages, "
                "--restart crawls it again from nothing (its records removed), or give another --job",
                highlight=False,
            )
        console.print(
            f"crawling job {job!r} with {settings.workers} worker processes; Ctrl-C stops, re-running resumes"
        )
        try:
            stats = _wait(frontier, workers, settings, console)
        except KeyboardInterrupt:
            console.print("stopping: letting running tasks finish (run the same command again to resume)")
            raise
        unfetched = unfetched_seeds(context.store, job, seeds, console)
    out = Console(soft_wrap=True)
    summary(stats, settings, out)
    if not args.no_report:
        report_after_crawl(settings, job, stats, out)
    if seeds and unfetched == len(seeds):
        return _fail("no seed could be fetched (the reasons are above)", EXIT_ERROR)
    return 0


def _restart(context: Context, frontier: Frontier, seeds: list[str], recrawl: bool, console: Console) -> None:
    """Forget the job (frontier and records) so that this crawl starts it from nothing."""
    if recrawl:
        raise ConfigError("--restart crawls the job from nothing, --recrawl revisits what it stored: choose one")
    if not seeds:
        raise ConfigError("--restart needs the seed URLs to start from")
    if not frontier.exists():
        return
    removed = context.store.forget(frontier.job)
    frontier.forget()
    console.print(f"job {frontier.job!r} starts over: its frontier and its {removed} records are removed",
                  highlight=False)


def cmd_seed(args: argparse.Namespace) -> int:
    policy = policy_flags(args)
    settings = load_settings(**policy)
    seeds = [require_canonical(url) for url in args.seeds]
    with redis_client(settings) as (_, url):
        os.environ["CRAWLER_REDIS_URL"] = url
        from tasks.seeding import seed

        added = seed(seeds, job=args.job, **policy)
    print(f"job {args.job}: {added} new URL(s) seeded")
    return 0


def cmd_recrawl(args: argparse.Namespace) -> int:
    settings = load_settings()
    with redis_client(settings) as (_, url):
        os.environ["CRAWLER_REDIS_URL"] = url
        from tasks.app import runtime

        due = lifecycle.recrawl(runtime(), args.job, args.older_than)
    print(f"job {args.job}: {due} stored URL(s) due again; the workers revisit them now")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    settings = load_settings()
    with redis_client(settings) as (client, _):
        jobs = [args.job] if args.job else list_jobs(client)
        frontiers = [Frontier(client, job) for job in jobs]
        if args.watch:
            return watch(frontiers)
        stats = [frontier.stats() for frontier in frontiers]
        backoffs = frontiers[0].backoffs(BACKOFFS_SHOWN) if args.job else []
        due = _due_counts(settings, frontiers, stats)
    if args.json:
        reports = [dict(s.to_json(), **_due_json(due.get(s.job))) for s in stats]
        payload: Any = dict(reports[0], backoffs=[b.to_json() for b in backoffs]) if args.job else reports
        print(json.dumps(payload, indent=2))
        return 0
    if not stats:
        print("no jobs")
    for item, frontier in zip(stats, frontiers, strict=True):
        print(line(item))
        if item.job in due:
            print(revisit_line(item, due[item.job], time.time()))
        if (warning := bloom_warning(item, frontier.policy())) is not None:
            print(warning)
        for text in limit_lines(item):
            print(text)
    for text in backoff_lines(backoffs):
        print(text)
    return 0


@contextmanager
def _job_store(settings: Settings, job: str) -> Iterator[Store]:
    """The store, holding records of `job`, or JobNotFound."""
    store = open_store(settings.store_url)
    try:
        if store.count(job) == 0:
            raise JobNotFound(f"no records for job {job!r} in {settings.store_url}")
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

    settings = load_settings(metrics_bind=args.bind, metrics_port=args.port)
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


def cmd_state(args: argparse.Namespace) -> int:
    settings = load_settings()
    state = {"pause": PAUSED, "resume": RUNNING, "cancel": CANCELLED}[args.command]
    with redis_client(settings) as (client, _):
        Frontier(client, args.job).set_state(state)
    print(f"job {args.job}: {state}")
    return 0


# --- helpers --------------------------------------------------------------------------


def _due_counts(settings: Settings, frontiers: list[Frontier], stats: list[JobStats]) -> dict[str, DueCounts]:
    """How many URLs of each job that revisits are due now and later, from the store (a
    job that crawls once has no schedule to show)."""
    revisiting = [
        frontier.job for frontier, item in zip(frontiers, stats, strict=True)
        if item.revisits or frontier.feeding() is not None or frontier.policy().revisit_interval > 0
    ]
    if not revisiting:
        return {}
    store = open_store(settings.store_url)
    try:
        now = time.time()
        return {job: store.due_counts(job, now) for job in revisiting}
    finally:
        store.close()


def _due_json(due: DueCounts | None) -> dict[str, Any]:
    if due is None:
        return {}
    return {"due_now": due.due, "due_later": due.later, "next_due_at": due.next_at}


def _wait(frontier: Frontier, workers: LocalWorkers, settings: Settings, console: Console) -> JobStats:
    """Tick the dispatcher and show progress until the job ends."""
    from tasks.app import runtime
    from tasks.dispatch import locked_tick

    context = runtime()

    with Display(console) as display:
        while True:
            locked_tick(context)
            stats = frontier.stats()
            display.show(stats, busiest(frontier, stats), frontier.policy().max_pages)
            if stats.state in (FINISHED, CANCELLED):
                return stats
            if not workers.alive():
                raise CrawlError(f"the worker processes stopped; see {workers.log_path}")
            _sleep_unless_done(frontier, settings.dispatch_interval)


def _sleep_unless_done(frontier: Frontier, seconds: float) -> None:
    """Until the next tick, or less when the job ends first: the crawl's wall time should
    not include most of a tick spent waiting after the last page."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        if frontier.state() in (FINISHED, CANCELLED):
            return
        time.sleep(min(left, END_POLL_SECONDS))


def _job_name(seeds: list[str]) -> str:
    """The first seed's host, made a valid job name (an IPv6 host keeps its hex digits)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", hostname(seeds[0])).strip("-._")[:64] if seeds else ""
    return name or "default"


_KEPT = "Policy flags that are not given keep the job's own values when the job exists."


def _parser() -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(prog="crawler", description="A distributed web crawler on Celery and Redis.")
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)

    crawl = commands.add_parser(
        "crawl", help="run a whole crawl on this machine", description=f"Run a whole crawl on this machine. {_KEPT}"
    )
    crawl.add_argument("seeds", nargs="*", metavar="SEED")
    crawl.add_argument("--job", help="job name (default: the first seed's host)")
    crawl.add_argument("--workers", type=positive,
                       help="worker processes to start here (default: CRAWLER_WORKERS, else one per CPU)")
    crawl.add_argument(
        "--proxy", action="append", metavar="URL", help="send requests through this proxy (repeatable: rotation)"
    )
    crawl.add_argument("--demo", action="store_true", help="serve and crawl the bundled demo site")
    crawl.add_argument("--warc", metavar="DIR", help="write WARC files of every exchange into DIR")
    crawl.add_argument("--no-report", action="store_true", help="do not write report-JOB.html at the end")
    crawl.add_argument(
        "--restart", action="store_true",
        help="crawl the job again from nothing: its frontier and its stored records are removed first",
    )
    crawl.add_argument(
        "--recrawl", action="store_true",
        help="revisit every URL the job stored, with conditional requests, and follow new links",
    )
    add_policy_flags(crawl)
    crawl.set_defaults(run=cmd_crawl)

    seed = commands.add_parser(
        "seed", help="seed URLs into a running cluster", description=f"Seed URLs into a running cluster. {_KEPT}"
    )
    seed.add_argument("seeds", nargs="+", metavar="SEED")
    seed.add_argument("--job", required=True)
    add_policy_flags(seed)
    seed.set_defaults(run=cmd_seed)

    recrawl = commands.add_parser("recrawl", help="revisit a job's stored URLs on a running cluster")
    recrawl.add_argument("--job", required=True)
    recrawl.add_argument(
        "--older-than", type=seconds, metavar="SECONDS", help="only URLs last fetched more than SECONDS ago"
    )
    recrawl.set_defaults(run=cmd_recrawl)

    status = commands.add_parser("status", help="show jobs' counters")
    status.add_argument("--job")
    status.add_argument("--json", action="store_true")
    status.add_argument("--watch", action="store_true")
    status.set_defaults(run=cmd_status)

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
    metrics.add_argument("--bind", metavar="ADDRESS", help="address to listen on (default 127.0.0.1)")
    metrics.add_argument("--port", type=int, help="port to listen on (default 9810)")
    metrics.set_defaults(run=cmd_metrics)

    for name in ("pause", "resume", "cancel"):
        command = commands.add_parser(name, help=f"{name} a job across the cluster")
        command.add_argument("--job", required=True)
        command.set_defaults(run=cmd_state)
    return parser


if __name__ == "__main__":
    sys.exit(main())
