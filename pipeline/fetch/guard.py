"""The address guard: a crawler that follows links must not be steered into the
network it runs in (cloud metadata, admin consoles on loopback, the office LAN).

The check sits inside the HTTP connection itself (pipeline/fetch/connections.py): the host is
resolved once, the address is checked, and the socket goes to that very address. A host
whose DNS answer changes between a check and a connect (DNS rebinding) gains nothing,
and every redirect hop and robots.txt request passes through the same door.
"""

from __future__ import annotations

import ipaddress
import socket
from typing import Any
from urllib.parse import urlsplit

from pipeline.fetch.causes import error_in
from pipeline.fetch.errors import PermanentFetchError, TransientFetchError

_NAT64 = ipaddress.ip_network("64:ff9b::/96")
_IPV4_COMPATIBLE = ipaddress.ip_network("::/96")
_IPV4_TRANSLATED = ipaddress.ip_network("::ffff:0:0:0/96")


def is_public(address: str) -> bool:
    """True only for globally routable unicast addresses; IPv4 addresses carried inside
    IPv6 (mapped, translated, compatible, 6to4, NAT64, Teredo) are judged as IPv4."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    embedded = _embedded_ipv4(ip) if isinstance(ip, ipaddress.IPv6Address) else None
    if embedded is not None:
        return is_public(str(embedded))
    return ip.is_global and not ip.is_multicast


def _embedded_ipv4(ip: ipaddress.IPv6Address) -> ipaddress.IPv4Address | None:
    if ip.ipv4_mapped is not None:
        return ip.ipv4_mapped
    if ip.sixtofour is not None:
        return ip.sixtofour
    if ip.teredo is not None:
        return ip.teredo[1]
    if ip in _NAT64 or ip in _IPV4_TRANSLATED or (ip in _IPV4_COMPATIBLE and int(ip) > 1):
        return ipaddress.IPv4Address(int(ip) & 0xFFFFFFFF)
    return None


def public_address(host: str, port: int) -> tuple[Any, ...]:
    """Resolve `host` once and return the first public socket address, or refuse."""
    refused = None
    for family, _, _, _, sockaddr in _resolve(host, port):
        if is_public(sockaddr[0]):
            return family, sockaddr
        refused = sockaddr[0]
    raise PermanentFetchError(f"address not allowed: {refused} (use --allow-private)")


def _resolve(host: str, port: int) -> list[tuple[Any, ...]]:
    try:
        return socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        raise lookup_failed(exc) from None
    except (UnicodeError, ValueError):
        raise PermanentFetchError("unusable host name") from None


def lookup_failed(exc: socket.gaierror) -> TransientFetchError | PermanentFetchError:
    """What a failed name lookup means for the URL, however the lookup was made (by the
    guard, or by urllib3 for a job that allows private addresses): a name that does not
    resolve is not retried, a resolver that did not answer in time is."""
    if exc.errno == socket.EAI_AGAIN:
        return TransientFetchError("DNS lookup failed temporarily")
    return PermanentFetchError("DNS lookup failed")


def lookup_error_in(exc: BaseException) -> socket.gaierror | None:
    """The failed name lookup under an error of requests or urllib3 (a connection error
    wraps a NameResolutionError, which wraps the gaierror), if that is what it was."""
    return error_in(exc, socket.gaierror)


def check_url(url: str) -> None:
    """Refuse `url` unless every address its host resolves to is public. For requests sent
    through a proxy, which resolves the name again itself and may pick any of them: the
    address cannot be pinned there, so none may be private."""
    parts = urlsplit(url)
    try:
        port = parts.port or (443 if parts.scheme == "https" else 80)
    except ValueError:
        raise PermanentFetchError("unusable URL: bad port") from None
    for *_, sockaddr in _resolve(parts.hostname or "", port):
        if not is_public(sockaddr[0]):
            raise PermanentFetchError(f"address not allowed: {sockaddr[0]} (use --allow-private)")
