"""Celery wiring of the crawler: the app (``celery -A tasks worker|beat|flower``), the
fetch | parse | store tasks, the beat dispatcher and `seed()`."""

from tasks.app import app
from tasks.dispatch import dispatch
from tasks.flower import configure_if_flower
from tasks.seeding import seed
from tasks.stages import fetch, parse, store

__all__ = ["app", "dispatch", "fetch", "parse", "seed", "store"]

configure_if_flower()
