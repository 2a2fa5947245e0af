"""The `crawler` command: its parser, made of each command family's (crawl.py, jobs.py,
data.py, reference.py), and the dispatch that turns every error into one line and an exit status.

Bad input ends in a one-line message and a non-zero exit, never a traceback. The
Celery app is imported only once the Redis URL is known (it may be an embedded Redis
started here), and then configured with this command's settings (tasks.app.configure).
"""

from __future__ import annotations

import argparse
import os
import signal
import sys
from typing import NoReturn

import redis
from amqp.exceptions import AMQPError
from kombu.exceptions import KombuError

from pipeline import __version__
from pipeline.errors import ConfigError, CrawlError
from pipeline.urls import redact
from tasks.cli import crawl, data, jobs, reference

EXIT_ERROR, EXIT_USAGE, EXIT_INTERRUPTED = 1, 2, 130


def main(argv: list[str] | None = None) -> int:
    args = build_parser().parse_args(argv)
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


def build_parser() -> argparse.ArgumentParser:
    """Every command and flag of `crawler`."""
    parser: argparse.ArgumentParser = _Parser(
        prog="crawler", description="A distributed web crawler on Celery and Redis."
    )
    parser.add_argument("--version", action="version", version=f"%(prog)s {__version__}")
    commands = parser.add_subparsers(dest="command", required=True)
    crawl.add_commands(commands)
    jobs.add_commands(commands)
    data.add_commands(commands)
    reference.add_commands(commands)
    return parser


class _Parser(argparse.ArgumentParser):
    """argparse repeats a bad argument in its error, and an argument may be a URL with
    a password in it: the error shows it masked."""

    def error(self, message: str) -> NoReturn:
        super().error(redact(message))


def _interrupt(signum: int, frame: object) -> None:
    """SIGTERM and SIGHUP (a closed terminal) stop as cleanly as Ctrl-C: workers
    finish, the embedded Redis saves, nothing is left running."""
    raise KeyboardInterrupt


def _fail(message: str, code: int) -> int:
    """One line on stderr; a URL in it (a store or Redis URL in an error) keeps no password."""
    print(f"crawler: error: {redact(message)}", file=sys.stderr)
    return code
