"""The HTTP connections every fetch goes through: each is put under the exchange's
wall-clock deadline, and for jobs without allow_private each new one passes the address
guard (resolve once, check, connect to that address)."""

from __future__ import annotations

import socket
from typing import Any

from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool

from pipeline.deadline import watch_current
from pipeline.guard import public_address


class _DeadlineMixin:
    def connect(self) -> None:
        super().connect()
        watch_current(self.sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch_current(self.sock)
        super().request(*args, **kwargs)


class _GuardMixin:
    def _new_conn(self) -> socket.socket:
        """Connect to the checked address. The name is put back at once: urllib3 derives
        the TLS server name (SNI, certificate check) and the Host header from it."""
        name = self._dns_host
        _, sockaddr = public_address(name, self.port)
        self._dns_host = sockaddr[0]
        try:
            return super()._new_conn()
        finally:
            self._dns_host = name


class _HTTP(_DeadlineMixin, HTTPConnection):
    pass


class _HTTPS(_DeadlineMixin, HTTPSConnection):
    pass


class _GuardedHTTP(_GuardMixin, _DeadlineMixin, HTTPConnection):
    pass


class _GuardedHTTPS(_GuardMixin, _DeadlineMixin, HTTPSConnection):
    """TLS still verifies the certificate (and sends SNI) for the host name, not the address."""


def _pool(base: type, connection: type) -> type:
    return type(f"{connection.__name__}Pool", (base,), {"ConnectionCls": connection})


_POOLS = {
    False: {"http": _pool(HTTPConnectionPool, _HTTP), "https": _pool(HTTPSConnectionPool, _HTTPS)},
    True: {"http": _pool(HTTPConnectionPool, _GuardedHTTP), "https": _pool(HTTPSConnectionPool, _GuardedHTTPS)},
}


class CrawlerAdapter(HTTPAdapter):
    """A requests adapter using the connections above; `guarded` turns the address guard on."""

    def __init__(self, guarded: bool, **kwargs: Any) -> None:
        self.guarded = guarded
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS[self.guarded])
