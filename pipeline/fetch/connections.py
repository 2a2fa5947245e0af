"""The HTTP connections every fetch goes through: each is put under the exchange's
wall-clock deadline, and for jobs without allow_private each new one passes the address
guard (resolve once, check, connect to that address). Connections through a proxy get
the deadline too; their target is checked by the fetcher before the request is sent,
since it is the proxy that connects to it.

A worker process keeps its idle connections in one set of pools (`Pools`) that all its
threads share: a host is asked by whichever thread has its next URL, so connections kept
per thread would be found again by chance only, and a broad crawl would open a new
connection (and on the web a TLS handshake, two round trips) for nearly every request."""

from __future__ import annotations

import resource
import socket
import threading
import time
from collections.abc import Callable
from http.client import RemoteDisconnected
from typing import Any, TypeVar

import requests
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

from pipeline.fetch.causes import error_in
from pipeline.fetch.deadline import passed, watch_current
from pipeline.fetch.guard import public_address

T = TypeVar("T")


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
    # Requests sent on this connection: from the second on, it was kept alive.
    requests_sent = 0

    def connect(self) -> None:
        super().connect()
        self.requests_sent = 0
        sock = _raw(self.sock)
        watch_current(sock)
        self.peer_address = _peer_of(sock)

    def request(self, *args: Any, **kwargs: Any) -> None:
        watch_current(_raw(self.sock))
        # A plain-http connection connects inside the request, so has no socket yet here.
        _last.kept_alive = self.requests_sent > 0 and self.sock is not None
        super().request(*args, **kwargs)
        self.requests_sent += 1
        self.sent_at = time.monotonic()


_last = threading.local()
# What a server's close of an idle connection looks like when a request goes out on it:
# closed (no status line came) or reset, before any answer.
DROPPED = (RemoteDisconnected, ConnectionResetError, BrokenPipeError, ConnectionAbortedError)


def once_more_if_dropped(send: Callable[[], T]) -> T:
    """`send()`, and at once again when its request went out on a kept-alive connection
    the server closed as it went out (it may, whenever it likes, and no answer came: the
    host never had the request, so this is not the host's failure and takes no turn of
    its own). Once only, on a new connection, and not past the exchange's deadline."""
    _last.kept_alive = False
    try:
        return send()
    except requests.ConnectionError as exc:
        if not (_last.kept_alive and error_in(exc, DROPPED) is not None) or passed():
            raise
    _last.kept_alive = False
    return send()


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
        self._managers_lock = threading.Lock()
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
        """The manager of one proxy, whose connections (to the proxy) keep the deadline;
        made under a lock, since the threads of a process share the adapter."""
        with self._managers_lock:
            new = proxy not in self.proxy_manager
            manager = super().proxy_manager_for(proxy, **proxy_kwargs)
            if new:
                manager.pool_classes_by_scheme = dict(
                    _SOCKS_POOLS if proxy.lower().startswith("socks") else _POOLS[False]
                )
            return manager


# Idle connections kept per host, at most: a process never has more requests to one host
# in flight than it has threads (CRAWLER_HOST_CONCURRENCY keeps it lower still); a
# connection past it is closed after use.
PER_HOST = 64
# Of the open-files limit, the share idle connections may take; the rest is the
# process's own (Redis, the store, WARC files, the broker, a browser's pipes).
FILES_SHARE = 4


class Pools:
    """The kept-alive connections of one process, shared by its threads: one adapter
    with the address guard, one without (jobs that allow private addresses). urllib3's
    pools are thread-safe; each host's idle connections are kept for the `hosts` most
    recently asked (fewer when the open-files limit is low: each is a file)."""

    def __init__(self, hosts: int) -> None:
        self.hosts = min(hosts, _files_for_connections())
        self._adapters: dict[bool, CrawlerAdapter] = {}
        self._lock = threading.Lock()

    def adapter(self, guarded: bool) -> CrawlerAdapter:
        with self._lock:
            if guarded not in self._adapters:
                self._adapters[guarded] = CrawlerAdapter(guarded, pool_connections=self.hosts, pool_maxsize=PER_HOST)
            return self._adapters[guarded]

    def close(self) -> None:
        with self._lock:
            for adapter in self._adapters.values():
                adapter.close()
            self._adapters.clear()


def _files_for_connections() -> int:
    soft, _ = resource.getrlimit(resource.RLIMIT_NOFILE)
    return max(1, soft // FILES_SHARE) if soft != resource.RLIM_INFINITY else 1 << 30
