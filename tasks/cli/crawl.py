"""`crawler crawl`: a whole crawl on this machine, from its seeds to its report. It finds
or starts Redis, starts the workers, ticks the dispatcher itself and shows progress
until the job ends; run again, it resumes what an interrupted run left."""

from __future__ import annotations

import argparse
import re
import time
from contextlib import ExitStack
from dataclasses import replace
from pathlib import Path

from rich.console import Console

from pipeline.crawl import Context, jobs
from pipeline.errors import ConfigError, CrawlError
from pipeline.frontier import Frontier, JobState, JobStats
from pipeline.store import open_store
from pipeline.urls import hostname, require_canonical
from tasks.cli.flags import KEPT, add_policy_flags, load_settings, policy_flags, positive, setting_flag
from tasks.cli.lifeline import RunLock
from tasks.cli.local import LocalWorkers, demo_server, redis_for_crawl, start_workers
from tasks.cli.outcome import report_after_crawl, summary, unfetched_seeds
from tasks.cli.pace import RunPace, pages
from tasks.cli.progress import Display, busiest, user_bound

DEMO_JOB = "demo"
# The demo site is ours and local: no need to be gentle with it.
DEMO_POLICY = {"allow_private": True, "delay": 0.0, "host_concurrency": 4, "sitemaps": True}
# Seconds between looks at whether the job has ended, between two ticks.
END_POLL_SECONDS = 0.1


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    crawl = commands.add_parser(
        "crawl", help="run a whole crawl on this machine", description=f"Run a whole crawl on this machine. {KEPT}"
    )
    crawl.add_argument("seeds", nargs="*", metavar="SEED")
    crawl.add_argument("--job", help="job name (default: the first seed's host)")
    setting_flag(crawl, "--workers", "workers", type=positive)
    setting_flag(crawl, "--proxy", "proxies", action="append", metavar="URL")
    crawl.add_argument("--demo", action="store_true", help="serve and crawl the bundled demo site")
    setting_flag(crawl, "--warc", "warc_dir", metavar="DIR")
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


def cmd_crawl(args: argparse.Namespace) -> int:
    policy = policy_flags(args)
    warc_dir = str(Path(args.warc_dir).resolve()) if args.warc_dir else None
    settings = load_settings(workers=args.workers, proxies=args.proxies, warc_dir=warc_dir, **policy)
    seeds = [require_canonical(url) for url in args.seeds]
    console = Console(stderr=True, soft_wrap=True)
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
        settings = replace(settings, redis_url=redis_url)
        from tasks.app import configure
        from tasks.resume import resume_in_flight
        from tasks.seeding import seed

        context = configure(settings)
        frontier = context.frontier(job)
        if not seeds and not frontier.exists():
            raise ConfigError("give at least one seed URL (or --demo, or --job of an existing job)")
        if args.recrawl and not frontier.exists():
            raise ConfigError(f"nothing to recrawl: job {job!r} has not run yet (drop --recrawl)")
        if args.restart:
            _restart(context, frontier, seeds, args.recrawl, console)
        was_finished = frontier.state() == JobState.FINISHED
        run = RunPace(before=pages(frontier.stats()) if frontier.exists() else 0)
        if embedded and not settings.broker_url:
            # What the earlier run left in flight is in the embedded Redis's queues.
            resume_in_flight(context)
        workers = start_workers(settings, stack, lock)
        if args.recrawl:
            due = jobs.recrawl(context, job)
            console.print(f"recrawling job {job!r}: {due} stored URLs due again", highlight=False)
        if seeds:
            seed(seeds, job=job, **policy)
        if frontier.state() == JobState.PAUSED:
            frontier.set_state(JobState.RUNNING)
        if was_finished and frontier.state() == JobState.FINISHED:
            console.print(
                f"job {job!r} had already finished, and nothing new was seeded: --recrawl revisits its pages, "
                "--restart crawls it again from nothing (its records removed), or give another --job",
                highlight=False,
            )
        bound = user_bound(frontier.policy(), given="max_pages" in policy)
        console.print(
            f"crawling job {job!r} with {settings.workers} worker processes; Ctrl-C stops, re-running resumes"
        )
        try:
            stats = _wait(context, frontier, workers, Display(console, run), bound)
        except KeyboardInterrupt:
            console.print("stopping: letting running tasks finish (run the same command again to resume)")
            raise
        unfetched = unfetched_seeds(context.store, job, seeds, console)
    out = Console(soft_wrap=True)
    summary(stats, run.pace(time.monotonic()), settings, out)
    if not args.no_report:
        report_after_crawl(settings, job, stats, out)
    if seeds and unfetched == len(seeds):
        raise CrawlError("no seed could be fetched (the reasons are above)")
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


def _wait(context: Context, frontier: Frontier, workers: LocalWorkers, display: Display, bound: int) -> JobStats:
    """Tick the dispatcher and show progress until the job ends."""
    from tasks.dispatch import locked_tick

    with display:
        while True:
            locked_tick(context)
            stats = frontier.stats()
            display.show(stats, busiest(frontier, stats), bound)
            if stats.state in (JobState.FINISHED, JobState.CANCELLED):
                return stats
            if not workers.alive():
                raise CrawlError(f"the worker processes stopped; see {workers.log_path}")
            _sleep_unless_done(frontier, context.settings.dispatch_interval, display)


def _sleep_unless_done(frontier: Frontier, seconds: float, display: Display) -> None:
    """Until the next tick, or less when the job ends first: the crawl's wall time should
    not include most of a tick spent waiting after the last page. Until this run's first
    page, each look reads the counters, so its pace starts within a look of it."""
    deadline = time.monotonic() + seconds
    while (left := deadline - time.monotonic()) > 0:
        state: JobState | None
        if display.run is not None and display.run.waiting:
            stats = frontier.stats()
            display.sample(stats)
            state = stats.state
        else:
            state = frontier.state()
        if state in (JobState.FINISHED, JobState.CANCELLED):
            return
        time.sleep(min(left, END_POLL_SECONDS))


def _job_name(seeds: list[str]) -> str:
    """The first seed's host, made a valid job name (an IPv6 host keeps its hex digits)."""
    name = re.sub(r"[^A-Za-z0-9._-]+", "-", hostname(seeds[0])).strip("-._")[:64] if seeds else ""
    return name or "default"
