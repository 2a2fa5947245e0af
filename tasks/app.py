"""The Celery app, configured once from Settings at import (``celery -A tasks``)."""

from __future__ import annotations

from celery import Celery

from pipeline.context import Context
from pipeline.settings import Settings
from tasks.config import celery_config

settings = Settings.load()
app = Celery("tasks")
app.config_from_object(celery_config(settings))
context = Context(settings)
