"""`celery -A tasks flower` with the project's settings: the same broker (it is the app's),
basic auth from CRAWLER_FLOWER_USER / CRAWLER_FLOWER_PASSWORD (on every page, /metrics and
/healthcheck included), and 127.0.0.1 unless told otherwise. Flower can revoke tasks and
shut workers down, so it never starts open: without credentials it refuses, unless
CRAWLER_FLOWER_LOCAL_ONLY says it is local-only.

Flower reads its options from FLOWER_* variables after it has imported the app, so they
are set here, when the flower command imports the app (tasks/app.py calls
configure_if_flower). Which command that is comes from celery's own dispatch, not from
the words on the command line: a job or a worker may well be named "flower"."""

from __future__ import annotations

import os
import sys
from collections.abc import MutableMapping

import click
import tornado.web

from pipeline.crawl import check
from pipeline.errors import ConfigError
from pipeline.settings import Settings

LOCALHOST = "127.0.0.1"


def is_flower_command() -> bool:
    """True inside `celery ... flower`: celery imports the app (tasks.app) in the
    callback of its root command, after click has resolved the subcommand, so the
    current click context names it. `crawler`, a plain import and every other celery
    subcommand have no such context or another subcommand."""
    context = click.get_current_context(silent=True)
    celery_cli = sys.modules.get("celery.bin.celery")
    return (
        context is not None
        and celery_cli is not None
        and context.command is celery_cli.celery
        and context.invoked_subcommand == "flower"
    )


def flower_environment(settings: Settings, environ: MutableMapping[str, str]) -> None:
    """Put auth and address into `environ` for Flower, or refuse with a ConfigError."""
    if settings.flower_user and settings.flower_password:
        environ.setdefault("FLOWER_BASIC_AUTH", f"{settings.flower_user}:{settings.flower_password}")
        environ.setdefault("FLOWER_ADDRESS", LOCALHOST)
    elif settings.flower_local_only:
        environ["FLOWER_ADDRESS"] = LOCALHOST
    elif "FLOWER_BASIC_AUTH" not in environ and "FLOWER_AUTH" not in environ:
        raise ConfigError(
            "Flower needs CRAWLER_FLOWER_USER and CRAWLER_FLOWER_PASSWORD "
            "(or CRAWLER_FLOWER_LOCAL_ONLY=true to run it without auth on 127.0.0.1)"
        )


def configure_if_flower() -> None:
    """Called when the app is imported: a no-op unless this process is the flower command
    (and for `flower --help`, which starts nothing and so needs no credentials)."""
    if not is_flower_command() or "--help" in sys.argv[1:]:
        return
    try:
        settings = Settings.load()
        check(settings)
        flower_environment(settings, os.environ)
    except ConfigError as exc:
        print(f"crawler: error: {exc}", file=sys.stderr)
        raise SystemExit(2) from None
    guard_open_views()


def guard_open_views() -> None:
    """Flower serves /metrics and /healthcheck without asking for credentials; they ask
    for the same ones as every other page here (a Prometheus scrape can send them)."""
    from flower.views import monitor

    for view in (monitor.Metrics, monitor.Healthcheck):
        if not getattr(view.get, "__wrapped__", None):
            view.get = tornado.web.authenticated(view.get)
