"""The address guard: a crawler that follows links must not be steered into the
network it runs in (cloud metadata, admin consoles on loopback, the office LAN)."""

from __future__ import annotations

import ipaddress
import socket

from pipeline.errors import PermanentFetchError, TransientFetchError


def is_public(address: str) -> bool:
    """True only for globally routable unicast addresses (IPv4-mapped IPv6 unwrapped)."""
    ip = ipaddress.ip_address(address.split("%", 1)[0])
    if isinstance(ip, ipaddress.IPv6Address) and ip.ipv4_mapped is not None:
        ip = ip.ipv4_mapped
    return ip.is_global and not ip.is_multicast


def check_host(host: str, port: int) -> None:
    """Refuse `host` unless every address it resolves to is public."""
    try:
        infos = socket.getaddrinfo(host, port, type=socket.SOCK_STREAM)
    except socket.gaierror as exc:
        if exc.errno == socket.EAI_AGAIN:
            raise TransientFetchError("DNS lookup failed temporarily") from None
        raise PermanentFetchError("DNS lookup failed") from None
    for *_, sockaddr in infos:
        if not is_public(sockaddr[0]):
            raise PermanentFetchError(f"address not allowed: {sockaddr[0]} (use --allow-private)")
