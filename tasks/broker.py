"""kombu's Redis transport, reusing one client per channel, quick to close, and quick to
take messages again under gevent.

kombu builds a new redis-py client object for each publish, ack and unacked-index
update (the connection pool underneath is shared; the client object is not). Building a
client costs more than the command it sends: about a tenth of a worker's CPU went there.
A redis-py client over a connection pool is safe to share between threads, so one per
channel does the same work.

A gevent (or eventlet) worker has no event loop of its own: Celery drains the broker
connection with a 2 s timeout. When every pool slot holds a message (prefetch, one a
slot, is spent), kombu's poller pauses its BRPOP and sleeps out the timeout, up to a
second, before it looks again, though a slot may free a millisecond later. On a broad
crawl that capped a gevent worker at its pool size a second or two: each host was asked
every 8.4 s instead of every 2.9 s (bench/README.md, Pools). Here, while a slot's
credit is spent, no wait inside the poller lasts longer than `SYNC_POLL_SECONDS`: the
drain goes on looking until its own timeout, and takes a message again as soon as a
slot is free. The threads, solo and prefork pools run Celery's event loop, which never
calls this poller's `get`.

Celery takes the class as `broker_transport`, which kombu honours for a ``redis://`` or
``rediss://`` URL; a unix socket URL names its transport in its scheme
(``redis+socket://``), so this one is also registered as ``crawler`` for
``crawler+socket://PATH``."""

from __future__ import annotations

from typing import Any

import redis
from kombu.transport import TRANSPORT_ALIASES
from kombu.transport import redis as kombu_redis

TRANSPORT = "tasks.broker:Transport"
SOCKET_SCHEME = "crawler+socket"
# The longest a synchronous consumer (gevent, eventlet) waits inside one look for a
# message: how late it may notice a freed pool slot.
SYNC_POLL_SECONDS = 0.02


class Channel(kombu_redis.Channel):  # type: ignore[misc]
    _shared: redis.Redis | None = None

    def _create_client(self, asynchronous: bool = False) -> Any:
        """The asynchronous client (BRPOP in the event loop) stays kombu's own; the
        synchronous one is built once for its pool, again if the pool is replaced."""
        if asynchronous:
            return super()._create_client(asynchronous=True)
        pool = self.pool
        shared = self._shared
        if shared is None or shared.connection_pool is not pool:
            shared = self._shared = super()._create_client()
        return shared


class Poller(kombu_redis.MultiChannelPoller):  # type: ignore[misc]
    def get(self, callback: Any, timeout: float | None = None) -> None:
        """One look for a message, as kombu's; while a consuming channel has no credit,
        it waits at most SYNC_POLL_SECONDS (the caller, Transport.drain_events, looks
        again until its own timeout). With credit, a BRPOP is out and its reply, or
        its own short timeout, ends the wait as before. (kombu restores unacked
        messages every so many looks: with acknowledgements off there are none.)"""
        if any(channel.active_queues and not channel.qos.can_consume() for channel in self._channels):
            timeout = SYNC_POLL_SECONDS if timeout is None else min(timeout, SYNC_POLL_SECONDS)
        super().get(callback, timeout=timeout)


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel
    # Seconds an idle BRPOP waits (Redis 6 takes fractions). A closing channel waits for
    # its outstanding BRPOP's reply, so that no message it popped is lost: kombu's 1 s
    # made every worker take a second to stop.
    brpop_timeout = 0.2  # type: ignore[assignment]  # kombu writes its default as the int 1

    def __init__(self, *args: Any, **kwargs: Any) -> None:
        super().__init__(*args, **kwargs)
        self.cycle = Poller()  # type: ignore[assignment]  # kombu declares it None on the class


TRANSPORT_ALIASES.setdefault(SOCKET_SCHEME.split("+")[0], TRANSPORT)
