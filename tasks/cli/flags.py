"""The options of the `crawler` commands that set a job's policy, the same for `crawl`
and `seed`, and the argument types they share."""

from __future__ import annotations

import argparse
from typing import Any

from pipeline.crawl.context import check
from pipeline.settings import Policy, Settings

_DEFAULTS = Policy()
# The description of the commands that take the policy flags.
KEPT = "Policy flags that are not given keep the job's own values when the job exists."


def load_settings(**overrides: Any) -> Settings:
    """This command's settings (defaults, CRAWLER_*, then `overrides`), each feature's
    checked at once: bad input fails before anything starts."""
    settings = Settings.load(**overrides)
    check(settings)
    return settings


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
        "frontier_shards": args.frontier_shards,
    }
    return {name: value for name, value in flags.items() if value is not None}


def add_policy_flags(parser: argparse.ArgumentParser) -> None:
    parser.add_argument("--max-pages", type=count, help=_default("URLs fetched for the job at most (0: no limit)",
                                                                   "max_pages"))
    parser.add_argument("--max-depth", type=count, help=_default("links followed from the seeds at most", "max_depth"))
    parser.add_argument("--delay", type=seconds, help=_default("seconds between request starts per host, "
                                                               "cluster-wide", "delay"))
    parser.add_argument("--host-concurrency", type=positive, help=_default("requests in flight per host, "
                                                                           "cluster-wide", "host_concurrency"))
    parser.add_argument("--timeout", type=duration, help=_default("connect and read timeout of one request, "
                                                                  "seconds", "timeout"))
    parser.add_argument("--user-agent", help=_default("User-Agent sent and matched against robots.txt", "user_agent"))
    parser.add_argument("--allow-domain", action="append", metavar="HOST", help="another host in scope (repeatable)")
    parser.add_argument("--allow-private", action="store_true", help="allow loopback and private addresses")
    parser.add_argument("--no-robots", action="store_true", help="do not obey robots.txt")
    parser.add_argument(
        "--extract", action="append", metavar="MODULE:FUNCTION",
        help="run this extractor on every page (repeatable; built-ins: text, metadata)",
    )
    parser.add_argument(
        "--revisit-interval", type=seconds, metavar="SECONDS",
        help=_default("crawl continuously: revisit each stored page about this often, adapted per page "
                      "(0: one pass)", "revisit_interval"),
    )
    parser.add_argument("--revisit-min", type=seconds, metavar="SECONDS",
                        help=_default("shortest revisit interval of a page", "revisit_min"))
    parser.add_argument("--revisit-max", type=seconds, metavar="SECONDS",
                        help=_default("longest revisit interval of a page", "revisit_max"))
    parser.add_argument("--frontier-shards", type=positive, metavar="N",
                        help=_default("split the job's frontier by host into N Redis Cluster slots, to spread it "
                                      "over a cluster's masters (fixed when the job is created)", "frontier_shards"))


def _default(text: str, name: str) -> str:
    """A flag's help with where its value comes from when it is not given: the job's
    policy for a job that exists, else its CRAWLER_* variable, else the built-in default."""
    return f"{text} (default: CRAWLER_{name.upper()}, else {getattr(_DEFAULTS, name)})"


def count(value: str) -> int:
    """A whole number, 0 or more."""
    return _whole(value, 0)


def positive(value: str) -> int:
    """A whole number, 1 or more."""
    return _whole(value, 1)


def _whole(value: str, least: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = least - 1
    if number < least:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least {least}, got {value!r}")
    return number


def duration(value: str) -> float:
    """A number of seconds above 0."""
    number = seconds(value)
    if number == 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {value!r}")
    return number


def seconds(value: str) -> float:
    """A non-negative number of seconds, or argparse's one-line usage error."""
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"expected a number of seconds, got {value!r}")
    return number
