"""The options of the `crawler` commands that set a job's policy, the same for `crawl`
and `seed`, and the argument types they share."""

from __future__ import annotations

import argparse
from typing import Any


def policy_flags(args: argparse.Namespace) -> dict[str, Any]:
    """Only the flags that were given: the rest come from the job, CRAWLER_* or defaults."""
    flags = {
        "max_pages": args.max_pages,
        "max_depth": args.max_depth,
        "delay": args.delay,
        "host_concurrency": args.host_concurrency,
        "timeout": args.timeout,
        "user_agent": args.user_agent,
        "allowed_domains": tuple(args.allow_domain) if args.allow_domain else None,
        "allow_private": True if args.allow_private else None,
        "robots": False if args.no_robots else None,
        "extract": tuple(args.extract) if args.extract else None,
        "revisit_interval": args.revisit_interval,
        "revisit_min": args.revisit_min,
        "revisit_max": args.revisit_max,
    }
    return {name: value for name, value in flags.items() if value is not None}


def add_policy_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-pages", type=int, help="URLs fetched for the job at most (0: no limit)")
    parser.add_argument("--max-depth", type=int, help="links followed from the seeds at most")
    parser.add_argument("--delay", type=float, help="seconds between request starts per host, cluster-wide")
    parser.add_argument("--host-concurrency", type=int, help="requests in flight per host, cluster-wide")
    parser.add_argument("--timeout", type=float, help="connect and read timeout of one request")
    parser.add_argument("--user-agent", help="User-Agent sent and matched against robots.txt")
    parser.add_argument("--allow-domain", action="append", metavar="HOST", help="another host in scope (repeatable)")
    parser.add_argument("--allow-private", action="store_true", help="allow loopback and private addresses")
    parser.add_argument("--no-robots", action="store_true", help="do not obey robots.txt")
    parser.add_argument(
        "--extract", action="append", metavar="MODULE:FUNCTION",
        help="run this extractor on every page (repeatable; built-ins: text, metadata)",
    )
    parser.add_argument(
        "--revisit-interval", type=float, metavar="SECONDS",
        help="crawl continuously: revisit each stored page about this often, adapted per page (0: one pass)",
    )
    parser.add_argument("--revisit-min", type=float, metavar="SECONDS", help="shortest revisit interval of a page")
    parser.add_argument("--revisit-max", type=float, metavar="SECONDS", help="longest revisit interval of a page")


def seconds(value: str) -> float:
    """A non-negative number of seconds, or argparse's one-line usage error."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}")
    return number
