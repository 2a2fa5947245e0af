"""Egress through proxies: a worker sends its requests through one HTTP(S) or SOCKS proxy,
or rotates over a list (``CRAWLER_PROXIES``). A proxy that cannot be reached, or that
refuses our credentials, is left out of the rotation for ``CRAWLER_PROXY_COOLDOWN``
seconds; requests never fall back to going out directly.

Rotation is round robin per request, kept per worker process: each host has its own
egress and its own view of which of its proxies work."""

from __future__ import annotations

import logging
import threading
import time
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from urllib.parse import urlsplit

from pipeline.errors import ConfigError
from pipeline.fetch.errors import EgressUnavailable
from pipeline.settings import Settings

SCHEMES = ("http", "https", "socks4", "socks4a", "socks5", "socks5h")
logger = logging.getLogger(__name__)


@dataclass(frozen=True)
class Proxy:
    """`url` goes to requests as given (credentials included); `label` is safe to log."""

    url: str
    label: str

    def relays(self, url: str) -> bool:
        """An HTTP proxy forwards plain-http requests itself, so a 407 to one is its own;
        through a tunnel or SOCKS, a 407 can only come from the site."""
        return self.label.startswith(("http://", "https://")) and url.startswith("http://")


def parse_proxy(text: str) -> Proxy:
    """A proxy URL checked once at start-up, so a typo fails loudly rather than per request."""
    parts = urlsplit(text.strip())
    scheme = parts.scheme.lower()
    shown = f"{scheme}://{parts.hostname or ''}" if scheme else "(no scheme)"
    if scheme not in SCHEMES:
        raise ConfigError(f"CRAWLER_PROXIES: {shown}: the scheme must be one of {', '.join(SCHEMES)}")
    try:
        port = parts.port
    except ValueError:
        port = None
    if not parts.hostname or port is None:
        raise ConfigError(f"CRAWLER_PROXIES: {shown}: a proxy URL needs a host and a port")
    if parts.path not in ("", "/") or parts.query or parts.fragment:
        raise ConfigError(f"CRAWLER_PROXIES: {shown}: a proxy URL has no path, query or fragment")
    host = f"[{parts.hostname}]" if ":" in parts.hostname else parts.hostname
    return Proxy(url=text.strip(), label=f"{scheme}://{host}:{port}")


def check(settings: Settings) -> None:
    """Every proxy of CRAWLER_PROXIES, when the command or worker starts."""
    for text in settings.proxies:
        parse_proxy(text)


class ProxyRotation:
    """Hands out the next working proxy, shared by the threads of one worker process."""

    def __init__(self, proxies: Sequence[Proxy], cooldown: float, clock: Callable[[], float] = time.monotonic) -> None:
        if not proxies:
            raise ConfigError("CRAWLER_PROXIES: give at least one proxy URL")
        self._proxies = list(proxies)
        self._cooldown = cooldown
        self._clock = clock
        self._next = 0
        self._out_until: dict[Proxy, float] = {}
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._proxies)

    def pick(self) -> Proxy:
        """The next proxy in turn that is not cooling down; EgressUnavailable when none is."""
        with self._lock:
            now = self._clock()
            for step in range(len(self._proxies)):
                proxy = self._proxies[(self._next + step) % len(self._proxies)]
                if self._out_until.get(proxy, 0.0) <= now:
                    self._next = (self._next + step + 1) % len(self._proxies)
                    return proxy
            wait = min(self._out_until.values()) - now
        raise EgressUnavailable(f"all {len(self._proxies)} proxies failed in the last {self._cooldown:g} s", wait=wait)

    def failed(self, proxy: Proxy, reason: str) -> None:
        """Take `proxy` out of the rotation for the cooldown."""
        with self._lock:
            self._out_until[proxy] = self._clock() + self._cooldown
        logger.warning("proxy %s failed (%s): out of rotation for %g s", proxy.label, reason, self._cooldown)
