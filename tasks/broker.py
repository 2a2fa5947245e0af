"""kombu's Redis transport, reusing one client per channel, and quick to close.

kombu builds a new redis-py client object for each publish, ack and unacked-index
update (the connection pool underneath is shared; the client object is not). Building a
client costs more than the command it sends: about a tenth of a worker's CPU went there.
A redis-py client over a connection pool is safe to share between threads, so one per
channel does the same work.

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


class Transport(kombu_redis.Transport):  # type: ignore[misc]
    Channel = Channel
    # Seconds an idle BRPOP waits (Redis 6 takes fractions). A closing channel waits for
    # its outstanding BRPOP's reply, so that no message it popped is lost: kombu's 1 s
    # made every worker take a second to stop.
    brpop_timeout = 0.2  # type: ignore[assignment]  # kombu writes its default as the int 1


TRANSPORT_ALIASES.setdefault(SOCKET_SCHEME.split("+")[0], TRANSPORT)
