"""Failing over from one proxy to the next within one exchange. A request through a proxy
that cannot be reached, or that refuses our credentials, goes again through the next
working one while the exchange's deadline lasts, and the proxy is benched in the worker's
rotation (pipeline/fetch/proxies.py). Only the proxy's own failures bench it: a site it
could not reach is that site's failure."""

from __future__ import annotations

import re

import requests

from pipeline.fetch.deadline import passed as deadline_passed
from pipeline.fetch.errors import EgressUnavailable, TransientFetchError
from pipeline.fetch.proxies import Proxy, ProxyRotation

PROXY_AUTH_REQUIRED = 407
# How urllib3 reports a CONNECT that the proxy answered with another status than 200.
_TUNNEL_FAILED = re.compile(r"Tunnel connection failed: (\d{3})")


class Failover:
    """The proxies one exchange goes through: the fetcher asks which to use next, and
    tells how the request through it went."""

    def __init__(self, rotation: ProxyRotation) -> None:
        self._rotation = rotation
        self._benched = False

    def pick(self) -> Proxy:
        """The proxy to send the request through. Past the exchange's deadline, the error
        to report instead: our egress when proxies failed meanwhile, else the deadline."""
        if deadline_passed():
            if self._benched:
                raise EgressUnavailable("the proxies kept failing until the download deadline", wait=1.0)
            raise TransientFetchError("download deadline exceeded")
        return self._rotation.pick()

    def unreachable(self, proxy: Proxy, exc: requests.ConnectionError) -> None:
        """The request through `proxy` could not connect: the proxy is benched when the
        fault is its own, and the next one is to be tried; otherwise the site's failure is
        raised."""
        status = _tunnel_status(exc)
        if status is not None and status != PROXY_AUTH_REQUIRED:
            raise TransientFetchError(f"the proxy could not reach the site (CONNECT: {status})") from exc
        if status is None and not isinstance(exc, requests.exceptions.ProxyError):
            raise exc
        self._bench(proxy, "unreachable" if status is None else "refused our credentials")

    def answered(self, proxy: Proxy, url: str, response: requests.Response) -> bool:
        """Whether `response` to `url` is the site's answer; when it is the proxy refusing
        our credentials instead, the response is closed, the proxy benched, and the next
        one is to be tried."""
        refused = response.status_code == PROXY_AUTH_REQUIRED and "Proxy-Authenticate" in response.headers
        if refused and proxy.relays(url):
            response.close()
            self._bench(proxy, "refused our credentials")
            return False
        return True

    def _bench(self, proxy: Proxy, reason: str) -> None:
        self._rotation.failed(proxy, reason)
        self._benched = True


def _tunnel_status(exc: requests.RequestException) -> int | None:
    """The status a proxy answered a CONNECT with, when that is why the request failed."""
    match = _TUNNEL_FAILED.search(str(exc))
    return int(match.group(1)) if match else None
