"""What `celery -A tasks worker` says of its queues is what they are: fetch, parse and
store each under its own exchange and routing key, not all three as `fetch`."""

from __future__ import annotations

from pipeline.settings import Settings
from tasks.config import celery_config
from tasks.names import QUEUES


def test_each_queue_is_declared_under_its_own_name():
    queues = celery_config(Settings.load())["task_queues"]

    assert {(q.name, q.exchange.name, q.routing_key) for q in queues} == {
        (name, name, name) for name in set(QUEUES.values())
    }
