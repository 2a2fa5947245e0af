"""The HTTP connections every fetch goes through: each is put under the exchange's
wall-clock deadline, and for jobs without allow_private each new one passes the address
guard (resolve once, check, connect to that address). Connections through a proxy get
the deadline too; their target is checked by the fetcher before the request is sent,
since it is the proxy that connects to it."""

from __future__ import annotations

import socket
import time
from typing import Any

import socks
from requests.adapters import HTTPAdapter
from urllib3.connection import HTTPConnection, HTTPSConnection
from urllib3.connectionpool import HTTPConnectionPool, HTTPSConnectionPool
from urllib3.contrib.socks import (
    SOCKSConnection,
    SOCKSHTTPConnectionPool,
    SOCKSHTTPSConnection,
    SOCKSHTTPSConnectionPool,
)
from urllib3.exceptions import ConnectTimeoutError, NewConnectionError, ProxyError
from urllib3.util.ssltransport import SSLTransport

from pipeline.fetch.deadline import watch_current
from pipeline.fetch.guard import public_address


def _raw(sock: socket.socket | SSLTransport | None) -> socket.socket | None:
    """TLS to a target inside TLS to an https:// proxy wraps the socket in an SSLTransport,
    which cannot be shut down itself; the socket under it can."""
    return sock.socket if isinstance(sock, SSLTransport) else sock


class _DeadlineMixin(HTTPConnection):
    """Subclasses urllib3's HTTPConnection so that the type checker knows what super() and
    self are; it goes before the concrete connection class in each MRO below, so super()
    is still that class (HTTPS, SOCKS) at run time.

    The address connected to is kept as `peer_address` for the WARC records: http.client
    drops the socket as soon as a response says it ends with the connection."""

    peer_address: str | None = None
    # When (time.monotonic) the last request on this connection had gone out whole: the
    # moment its host saw it, near enough, which the host's politeness counts from.
    sent_at: float | None = None

    def connect(self) -> None:
        super().connect()
        sock = _raw(self.sock)
        watch_current(sock)
        self.peer_address = _peer_of(sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch_current(_raw(self.sock))
        super().request(*args, **kwargs)
        self.sent_at = time.monotonic()


def _peer_of(sock: socket.socket | None) -> str | None:
    try:
        return str(sock.getpeername()[0]) if sock is not None else None
    except OSError:
        return None


class _GuardMixin(HTTPConnection):
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


class _SOCKSFaultMixin(SOCKSConnection):
    """urllib3 reports a SOCKS proxy it cannot reach or log in to as a failure to reach the
    target. It is raised as a ProxyError instead, as for an HTTP proxy, so that the proxy
    is the one taken out of rotation and the site is not blamed."""

    def _new_conn(self) -> socks.socksocket:
        try:
            return super()._new_conn()
        except (NewConnectionError, ConnectTimeoutError) as exc:
            cause = exc.__cause__ or exc.__context__
            if _socks_proxy_at_fault(cause):
                raise ProxyError("the SOCKS proxy failed", exc) from exc
            raise


def _socks_proxy_at_fault(error: BaseException | None) -> bool:
    """A failed lookup, connection or login to the proxy, or a proxy breaking off the
    handshake; not a target the proxy could not reach, a target name that did not
    resolve, or a timeout (a slow target looks the same as a slow proxy from here)."""
    if isinstance(error, (socks.ProxyConnectionError, socks.SOCKS5AuthError)):
        return True
    if isinstance(error, socket.gaierror):
        # Unwrapped, it comes from looking up the proxy's own name; the target's name is
        # looked up inside the SOCKS handshake, and that error arrives wrapped.
        return True
    if isinstance(error, socks.GeneralProxyError):
        return not isinstance(error.socket_err, (socket.gaierror, TimeoutError))
    return False


class _SOCKS(_SOCKSFaultMixin, _DeadlineMixin, SOCKSConnection):
    pass


class _SOCKSHTTPS(_SOCKSFaultMixin, _DeadlineMixin, SOCKSHTTPSConnection):
    pass


def _pool(base: type, connection: type) -> type:
    return type(f"{connection.__name__}Pool", (base,), {"ConnectionCls": connection})


_POOLS = {
    False: {"http": _pool(HTTPConnectionPool, _HTTP), "https": _pool(HTTPSConnectionPool, _HTTPS)},
    True: {"http": _pool(HTTPConnectionPool, _GuardedHTTP), "https": _pool(HTTPSConnectionPool, _GuardedHTTPS)},
}
_SOCKS_POOLS = {"http": _pool(SOCKSHTTPConnectionPool, _SOCKS), "https": _pool(SOCKSHTTPSConnectionPool, _SOCKSHTTPS)}


class CrawlerAdapter(HTTPAdapter):
    """A requests adapter using the connections above; `guarded` turns the address guard on."""

    def __init__(self, guarded: bool, **kwargs: Any) -> None:
        self.guarded = guarded
        super().__init__(**kwargs)

    def init_poolmanager(self, *args: Any, **kwargs: Any) -> None:
        super().init_poolmanager(*args, **kwargs)
        self.poolmanager.pool_classes_by_scheme = dict(_POOLS[self.guarded])

    def cert_verify(
        self, conn: HTTPConnectionPool, url: str, verify: bool | str, cert: str | tuple[str, str] | None
    ) -> None:
        """requests verifies TLS for https:// URLs only, but a plain-http request through an
        https:// proxy speaks TLS to the proxy: that certificate is verified too."""
        if conn.scheme == "https" and url.lower().startswith("http://"):
            url = "https://" + url[len("http://"):]
        super().cert_verify(conn, url, verify, cert)  # type: ignore[no-untyped-call]  # unannotated in types-requests

    def proxy_manager_for(self, proxy: str, **proxy_kwargs: Any) -> Any:
        """The manager of one proxy, whose connections (to the proxy) keep the deadline."""
        new = proxy not in self.proxy_manager
        manager = super().proxy_manager_for(proxy, **proxy_kwargs)
        if new:
            manager.pool_classes_by_scheme = dict(_SOCKS_POOLS if proxy.lower().startswith("socks") else _POOLS[False])
        return manager
