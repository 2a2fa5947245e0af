"""A worker that loses its broker connection (a Redis restart) forgets the tasks it had
received but not started, countdowns included: their messages are gone with the
connection, and their URLs would wait out their leases.
This consumer notes the leases of those tasks as it drops them, and hands them back to
the frontier as soon as Redis answers again, so the dispatcher sends them at once."""

from __future__ import annotations

import threading
import warnings
from collections import defaultdict
from collections.abc import Iterable, Sequence
from typing import Any

from celery.exceptions import CPendingDeprecationWarning
from celery.utils.log import get_task_logger
from celery.worker.consumer import Consumer
from celery.worker.state import active_requests, reserved_requests, scheduled_requests
from redis.exceptions import RedisError

from pipeline.frontier import Lease
from tasks.app import runtime
from tasks.names import FETCH, PARSE, STORE

logger = get_task_logger(__name__)

# Celery warns at every broker connection loss that a later major version will cancel
# running tasks by default. Keeping them running is this crawler's choice (the config's
# worker_cancel_long_running_tasks_on_connection_loss=False: the leases stop a duplicate
# chain), so the warning says nothing an operator can act on; only it is silenced.
warnings.filterwarnings(
    "ignore",
    message=r"\s*In Celery 5\.1 we introduced an optional breaking change",
    category=CPendingDeprecationWarning,
)


class HandingBackConsumer(Consumer):  # type: ignore[misc]
    # Set when the broker connection broke; a warm shutdown closes the consumer too, but
    # then kombu puts the unstarted messages back on their queues itself.
    _connection_lost = False

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        # kombu's Redis channel, once its connection is gone, fails a late ack or a
        # restore with AttributeError (it rebuilds a client from a connection it no
        # longer has); Celery would take that for a bug and stop the worker. Here it
        # means what it is, a lost connection: the consumer reconnects.
        errors: tuple[type[BaseException], ...] = self.conninfo.connection_errors
        self.connection_errors = (*errors, AttributeError)

    def on_connection_error_after_connected(self, exc: Exception) -> None:
        """Closing the broken connection makes kombu's Redis channel put back the
        messages it had delivered, through a client it may have to build from a
        connection that is already gone: an AttributeError that Celery takes for an
        unrecoverable error, and the worker exits. The connection is dropped either
        way, the leases of those messages are handed back (on_close), and the consumer
        carries on reconnecting."""
        self._connection_lost = True
        try:
            super().on_connection_error_after_connected(exc)
        except AttributeError as error:
            logger.warning("closing the lost broker connection failed (%r); reconnecting anyway", error)

    def on_close(self) -> None:
        lost, self._connection_lost = self._connection_lost, False
        held = (*reserved_requests, *scheduled_requests) if lost else ()
        dropped = _leases(r for r in held if r not in active_requests)
        super().on_close()
        if dropped:
            threading.Thread(target=_hand_back, args=(dropped,), name="hand-back", daemon=True).start()


def carried_lease(task: str, args: Sequence[Any]) -> tuple[str, Lease] | None:
    """The job and lease a message of ours carries, from its task name and arguments:
    fetch(job, lease, ...), or parse/store(payload, ...) with the payload's job and lease."""
    if task == FETCH and len(args) >= 2:
        return args[0], Lease.from_json(args[1])
    if task in (PARSE, STORE) and args and isinstance(args[0], dict):
        return args[0]["job"], Lease.from_json(args[0]["lease"])
    return None


def _leases(requests: Iterable[Any]) -> dict[str, list[Lease]]:
    found: dict[str, list[Lease]] = defaultdict(list)
    for request in requests:
        carried = carried_lease(request.name, request.args or ())
        if carried is not None:
            found[carried[0]].append(carried[1])
    return found


def _hand_back(dropped: dict[str, list[Lease]]) -> None:
    """Runs while Redis comes back: the client retries until it answers (or gives up, and
    the leases' deadlines hand the URLs out later)."""
    for job, leases in dropped.items():
        try:
            handed = runtime().frontier(job).hand_back(leases)
        except RedisError as exc:
            logger.warning("could not hand back %d leases of job %s: %s", len(leases), job, exc)
            continue
        logger.warning("handed back %d of %d dropped leases of job %s", handed, len(leases), job)
