"""The commands that act on the jobs of a running cluster: seed, recrawl, status, and
pause, resume or cancel. Each reaches Redis through CRAWLER_REDIS_URL, or else the
embedded Redis a `crawler crawl` left in the data dir."""

from __future__ import annotations

import argparse
import json
import time
from dataclasses import replace
from typing import Any

from pipeline.crawl import RenderHosts, jobs
from pipeline.errors import ConfigError
from pipeline.frontier import Frontier, JobState, JobStats, list_jobs
from pipeline.settings import RENDER_AUTO, Settings
from pipeline.store import DueCounts, open_store
from pipeline.urls import require_canonical
from tasks.cli.flags import KEPT, add_policy_flags, load_settings, policy_flags, seconds
from tasks.cli.local import redis_client
from tasks.cli.pace import job_pace
from tasks.cli.politeness import host_lines, host_of, verdict_text
from tasks.cli.progress import (
    backoff_lines,
    blocked_line,
    bloom_warning,
    discovered_line,
    limit_lines,
    line,
    revisit_line,
    watch,
)

# Paused hosts listed by `crawler status --job`, longest pause first.
BACKOFFS_SHOWN = 10
STATES = {"pause": JobState.PAUSED, "resume": JobState.RUNNING, "cancel": JobState.CANCELLED}


def add_commands(commands: argparse._SubParsersAction[argparse.ArgumentParser]) -> None:
    seed = commands.add_parser(
        "seed", help="seed URLs into a running cluster", description=f"Seed URLs into a running cluster. {KEPT}"
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
    status.add_argument("--host", help="with --job: the host's effective delay and why, its concurrency, robots, "
                        "user agent, render mode and why")
    status.set_defaults(run=cmd_status)

    for name in STATES:
        command = commands.add_parser(name, help=f"{name} a job across the cluster")
        command.add_argument("--job", required=True)
        command.set_defaults(run=cmd_state)


def cmd_seed(args: argparse.Namespace) -> int:
    policy = policy_flags(args)
    settings = load_settings(**policy)
    seeds = [require_canonical(url) for url in args.seeds]
    with redis_client(settings) as (_, url):
        from tasks.app import configure
        from tasks.seeding import seed

        configure(replace(settings, redis_url=url))
        added = seed(seeds, job=args.job, **policy)
    print(f"job {args.job}: {added} new URL(s) seeded")
    return 0


def cmd_recrawl(args: argparse.Namespace) -> int:
    settings = load_settings()
    with redis_client(settings) as (_, url):
        from tasks.app import configure

        due = jobs.recrawl(configure(replace(settings, redis_url=url)), args.job, args.older_than)
    print(f"job {args.job}: {due} stored URL(s) due again; the workers revisit them now")
    return 0


def cmd_status(args: argparse.Namespace) -> int:
    settings = load_settings()
    if args.host and not args.job:
        raise ConfigError("--host needs --job")
    with redis_client(settings) as (client, _):
        if args.host:
            return _host_status(Frontier(client, args.job), host_of(args.host), args.json)
        jobs = [args.job] if args.job else list_jobs(client)
        frontiers = [Frontier(client, job) for job in jobs]
        if args.watch:
            return watch(frontiers)
        stats = [frontier.stats() for frontier in frontiers]
        backoffs = frontiers[0].backoffs(BACKOFFS_SHOWN) if args.job else []
        due = _due_counts(settings, frontiers, stats)
        verdicts = RenderHosts(frontiers[0]).verdicts() if args.job else []
    if args.json:
        reports = [dict(s.to_json(), **_due_json(due.get(s.job))) for s in stats]
        payload: Any = dict(reports[0], backoffs=[b.to_json() for b in backoffs],
                            render=[v.to_json() for v in verdicts]) if args.job else reports
        print(json.dumps(payload, indent=2))
        return 0
    if not stats:
        print("no jobs")
    for item, frontier in zip(stats, frontiers, strict=True):
        print(line(item, job_pace(item, time.time())))
        print(discovered_line(item))
        if item.job in due:
            print(revisit_line(item, due[item.job], time.time()))
        if (warning := bloom_warning(item, frontier.policy())) is not None:
            print(warning)
        for text in limit_lines(item):
            print(text)
        if (blocked := blocked_line(item)) is not None:
            print(blocked)
    for text in backoff_lines(backoffs):
        print(text)
    for verdict in verdicts:
        print(f"render=auto {verdict.host}: {verdict_text(verdict)}")
    return 0


def _host_status(frontier: Frontier, host: str, as_json: bool) -> int:
    view = frontier.host_delay(host)
    verdict = RenderHosts(frontier).verdict(host) if view.render == RENDER_AUTO else None
    if as_json:
        print(json.dumps(dict(view.to_json(), render_auto=verdict.to_json() if verdict else None), indent=2))
    else:
        print("\n".join(host_lines(frontier.job, view, verdict)))
    return 0


def cmd_state(args: argparse.Namespace) -> int:
    settings = load_settings()
    state = STATES[args.command]
    with redis_client(settings) as (client, _):
        Frontier(client, args.job).set_state(state)
    print(f"job {args.job}: {state}")
    return 0


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
