"""Celery configuration derived from Settings: one Redis URL feeds broker, frontier and
Flower unless CRAWLER_BROKER_URL names another broker (a Redis, or RabbitMQ), and every
timeout is set relative to the others so none can undercut another."""

from __future__ import annotations

import ssl
from typing import Any
from urllib.parse import urlsplit

from kombu import Exchange, Queue

from pipeline.crawl import DEFAULT_REDIS_URL
from pipeline.settings import Settings
from tasks.broker import SOCKET_SCHEME, TRANSPORT
from tasks.names import DISPATCH, FETCH, PARSE, QUEUES, STORE


def broker_url(redis_url: str) -> str:
    """kombu spells a unix socket ``TRANSPORT+socket://PATH``; redis-py spells it ``unix://PATH``."""
    parts = urlsplit(redis_url)
    if parts.scheme == "unix":
        return f"{SOCKET_SCHEME}://" + parts.path + (f"?{parts.query}" if parts.query else "")
    return redis_url


def _broker_tls(settings: Settings) -> dict[str, Any]:
    """kombu wants the ssl module's constant where redis-py takes the word."""
    options: dict[str, Any] = dict(settings.redis_tls())
    if options:
        options["ssl_cert_reqs"] = ssl.CERT_REQUIRED
    return options


def _broker(settings: Settings) -> dict[str, Any]:
    """The frontier's Redis, a Redis of its own (kombu's transport with one client per
    channel, either way), or RabbitMQ, with publisher confirms: a chain's next stage is
    not taken for sent before the broker has it.

    On Redis, kombu's emulated acknowledgements are off: a message belongs to the worker
    that popped it. They would keep each delivered message in a hash and a sorted set
    until its ack (four commands and two round trips a message, a fifth of a worker's
    CPU on a broad crawl) only to redeliver it after a timeout; the lease does that
    already, sooner (CRAWLER_LEASE_TIMEOUT), and a redelivered chain would be stale.
    A warm shutdown still puts the messages it did not start back on their queues."""
    if settings.broker_is_amqp:
        return {
            "broker_url": settings.broker_url,
            "broker_use_ssl": True if settings.broker_url.startswith("amqps://") else None,
            "broker_transport_options": {"confirm_publish": True},
        }
    return {
        "broker_url": broker_url(settings.broker_url or settings.redis_url or DEFAULT_REDIS_URL),
        "broker_transport": TRANSPORT,
        "broker_use_ssl": _broker_tls(settings) or None,
        "broker_transport_options": {"ack_emulation": False},
    }


def celery_config(settings: Settings) -> dict[str, Any]:
    return {
        **_broker(settings),
        "broker_connection_retry_on_startup": True,
        "result_backend": None,
        "task_ignore_result": True,
        "task_serializer": "json",
        "result_serializer": "json",
        "accept_content": ["json"],
        "task_acks_late": True,
        "task_reject_on_worker_lost": True,
        # One message a pool slot: with two (4% more pages/s on one job), the job whose
        # chains started first kept the others' messages waiting behind its own.
        "worker_prefetch_multiplier": 1,
        "worker_consumer": "tasks.recovery:HandingBackConsumer",
        # Celery would cancel running tasks when the broker connection drops (their
        # messages may be redelivered); the leases already stop a duplicate chain, and
        # the threads pool cannot cancel a task at all (it stops the consumer).
        "worker_cancel_long_running_tasks_on_connection_loss": False,
        "worker_send_task_events": settings.task_events,
        "task_send_sent_event": settings.task_events,
        # A broker that is restarting must not lose the next stage of a chain whose
        # fetch is done: the publish is tried again about every 2 s, up to the limit.
        "task_publish_retry": True,
        "task_publish_retry_policy": {
            "max_retries": settings.redis_retries,
            "interval_start": 0.2,
            "interval_step": 0.5,
            "interval_max": 2.0,
        },
        "task_default_queue": QUEUES[FETCH],
        # Each queue under its own name (the worker's banner shows it so); Celery sends
        # to a queue by name through the default exchange either way.
        "task_queues": [
            Queue(name, Exchange(name, "direct"), routing_key=name) for name in dict.fromkeys(QUEUES.values())
        ],
        "task_routes": {task: {"queue": queue} for task, queue in QUEUES.items()},
        # The fetch's limit comes with each message, from its job's policy.
        "task_annotations": {
            PARSE: {"soft_time_limit": 60, "time_limit": 70},
            STORE: {"soft_time_limit": 60, "time_limit": 70},
        },
        "beat_scheduler": "tasks.beat:FolderMakingScheduler",
        "beat_schedule": {
            "dispatch": {
                "task": DISPATCH,
                "schedule": settings.dispatch_interval,
                "options": {"expires": max(1.0, settings.dispatch_interval * 5)},
            }
        },
    }
