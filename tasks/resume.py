"""Resuming jobs on the embedded Redis, after a run whose workers are all gone: what was
in flight is completed, and only what was truly lost is fetched again.

A chain the earlier run left in the broker still carries its lease: a fetch waiting for
its turn or its retry, a parse or store whose request is done. The messages a dead
worker had taken died with it (the broker does not keep delivered messages: see
tasks/config.py), so the leases that no message carries belonged to chains that died
with their workers: they go back to the frontier at once rather than after their
timeout."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Any

from kombu.exceptions import DecodeError, KombuError
from kombu.serialization import prepare_accept_content
from kombu.utils.json import loads

from pipeline.crawl import Context, jobs
from pipeline.frontier import Lease
from tasks.app import app
from tasks.names import QUEUES
from tasks.recovery import carried_lease

# Messages read from a queue at once: a parse or store message carries a whole page.
READ_BATCH = 20


def resume_in_flight(context: Context) -> None:
    """Only when no worker of an earlier run can still be alive (the caller holds the
    data dir's lock and runs the embedded Redis): a live worker's messages would look
    lost too."""
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        carried: dict[str, list[Lease]] = {}
        for job, lease in _carried_leases(channel):
            carried.setdefault(job, []).append(lease)
    jobs.requeue_uncarried(context, carried)


def _carried_leases(channel: Any) -> Iterator[tuple[str, Lease]]:
    """(job, lease) of every crawl chain waiting in the broker's queues, read in place:
    nothing is taken off a queue."""
    client = channel.client
    accept = prepare_accept_content(app.conf.accept_content)
    for queue in dict.fromkeys(QUEUES.values()):
        # kombu keeps one Redis list per queue and priority step; it names them.
        for key in dict.fromkeys(channel._q_for_pri(queue, step) for step in channel.priority_steps):
            for start in range(0, client.llen(key), READ_BATCH):
                for raw in client.lrange(key, start, start + READ_BATCH - 1):
                    found = _lease_of(channel.Message(loads(raw), channel=channel, accept=accept))
                    if found is not None:
                        yield found


def _lease_of(message: Any) -> tuple[str, Lease] | None:
    """The job and lease a chain's message carries: fetch(job, lease, ...) or
    parse/store(payload, ...) with the payload's "job" and "lease". Anything else, or a
    message that cannot be read, carries none (its lease, if any, is requeued, and the
    chain is then abandoned as stale when it runs)."""
    try:
        return carried_lease(message.headers["task"], message.decode()[0])
    except (DecodeError, KombuError, LookupError, TypeError, ValueError):
        return None
