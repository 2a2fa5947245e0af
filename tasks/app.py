"""The Celery app (``celery -A tasks``) and this process's crawl context.

Both read Settings lazily, on first use, not at import: from the environment in a
worker, beat or Flower, or as `configure` gives them in the `crawler` command, which
knows its Redis URL only once it has found or started Redis."""

from __future__ import annotations

import logging
from collections.abc import Iterator, Mapping
from functools import cache, cached_property
from typing import Any

from celery import Celery
from celery.signals import (
    after_setup_logger,
    after_setup_task_logger,
    beat_init,
    worker_process_shutdown,
    worker_shutdown,
)

from pipeline.crawl import Context
from pipeline.settings import Settings
from pipeline.urls import redact
from tasks.config import celery_config
from tasks.flower import configure_if_flower

# The settings `configure` gave this process, if any; else the environment's.
_given: list[Settings] = []


@cache
def runtime() -> Context:
    """Settings, Redis client, HTTP session and store of this process."""
    return Context(_given[0] if _given else Settings.load())


def configure(settings: Settings) -> Context:
    """This process's context (and the app's configuration) built on `settings` rather
    than on the environment; before either is first used."""
    if runtime.cache_info().currsize:
        raise RuntimeError("this process's crawl context is already built")
    _given[:] = [settings]
    return runtime()


class _LazyConfig(Mapping[str, Any]):
    """Celery reads its configuration on first access; this builds it then."""

    @cached_property
    def _values(self) -> dict[str, Any]:
        return celery_config(runtime().settings)

    def __getitem__(self, key: str) -> Any:
        return self._values[key]

    def __iter__(self) -> Iterator[str]:
        return iter(self._values)

    def __len__(self) -> int:
        return len(self._values)


# The worker imports the task modules itself: `celery -A tasks` imports this app alone.
app = Celery("tasks", include=["tasks.stages", "tasks.dispatch"])
app.config_from_object(_LazyConfig())
configure_if_flower()


@worker_shutdown.connect
@worker_process_shutdown.connect
def close_warc(**_: Any) -> None:
    """A worker that stops (a prefork child too) closes its WARC file, which then gets its
    final name; one killed outright leaves it as ….open, readable to its last record."""
    runtime().close_warc()


@beat_init.connect
def no_sent_events_from_beat(sender: Any, **_: Any) -> None:
    """Beat only ever sends the dispatcher's heartbeat, which is kept out of Flower."""
    sender.app.conf.task_send_sent_event = False


class RedactingFilter(logging.Filter):
    """Worker and beat logs show every URL without its password, as the command does."""

    def filter(self, record: logging.LogRecord) -> bool:
        message = record.getMessage()
        shown = redact(message)
        if shown != message:
            record.msg, record.args = shown, ()
        return True


@after_setup_logger.connect
@after_setup_task_logger.connect
def redact_logs(logger: logging.Logger, **_: Any) -> None:
    for handler in logger.handlers:
        handler.addFilter(RedactingFilter())
