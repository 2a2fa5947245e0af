"""The address guard refuses everything but globally routable unicast addresses."""

from __future__ import annotations

import pytest

from pipeline.fetch.errors import PermanentFetchError
from pipeline.fetch.guard import is_public, public_address


@pytest.mark.parametrize(
    "address",
    [
        "127.0.0.1",  # loopback
        "127.8.9.10",
        "::1",
        "10.0.0.1",  # private
        "172.16.5.4",
        "172.31.255.255",
        "192.168.1.1",
        "169.254.169.254",  # link-local: cloud metadata
        "fe80::1",
        "fe80::1%eth0",
        "fc00::1",  # unique local fc00::/7
        "fd12:3456:789a::1",
        "224.0.0.1",  # multicast
        "239.255.255.250",
        "ff02::1",
        "::ffff:127.0.0.1",  # IPv4-mapped loopback
        "::ffff:10.1.2.3",
        "::ffff:169.254.169.254",
        "0.0.0.0",  # unspecified: reaches the local host on Linux
        "::",
        "100.64.0.1",  # carrier-grade NAT
        "255.255.255.255",
        "192.0.2.1",  # documentation
        "2001:db8::1",
    ],
)
def test_non_public_addresses_are_refused(address):
    assert is_public(address) is False


@pytest.mark.parametrize("address", ["8.8.8.8", "1.1.1.1", "93.184.216.34", "2001:4860:4860::8888", "::ffff:8.8.8.8"])
def test_public_addresses_are_allowed(address):
    assert is_public(address) is True


@pytest.mark.parametrize("host", ["127.0.0.1", "::1", "169.254.169.254", "10.0.0.7"])
def test_public_address_refuses_literal_private_addresses(host):
    with pytest.raises(PermanentFetchError) as info:
        public_address(host, 80)

    assert "--allow-private" in info.value.reason


def test_public_address_accepts_a_literal_public_address():
    assert public_address("8.8.8.8", 443)[1][0] == "8.8.8.8"


@pytest.mark.parametrize("address", ["64:ff9b::7f00:1", "2002:7f00:1::", "::127.0.0.1", "::ffff:0:7f00:1"])
def test_ipv4_hidden_in_ipv6_is_judged_as_ipv4(address):
    assert is_public(address) is False


def test_the_fetcher_refuses_a_loopback_server_unless_private_addresses_are_allowed(site):
    from pipeline.fetch.fetcher import Fetcher
    from pipeline.settings import Policy

    fetcher = Fetcher()
    try:
        with pytest.raises(PermanentFetchError) as info:
            fetcher.fetch(site.url("/html"), Policy(timeout=1.0))
        assert info.value.reason.startswith("address not allowed: 127.0.0.1")
        before = len(site.requests)
        assert fetcher.fetch(site.url("/html"), Policy(timeout=1.0, allow_private=True)).status == 200
        assert len(site.requests) == before + 1
    finally:
        fetcher.close()


def test_the_guard_resolves_once_and_connects_to_the_address_it_checked(monkeypatch):
    """A rebinding host answers public first and loopback afterwards: the connection must
    use the first answer, not look the name up again."""
    import socket

    from pipeline.fetch import connections, guard

    answers = [("93.184.216.34", 80), ("127.0.0.1", 80)]
    lookups = []

    def fake_getaddrinfo(host, port, *args, **kwargs):
        lookups.append(host)
        address = answers[min(len(lookups) - 1, 1)]
        return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", address)]

    monkeypatch.setattr(guard.socket, "getaddrinfo", fake_getaddrinfo)
    connection = connections._GuardedHTTP("rebind.example", 80, timeout=0.01)
    connected = []
    monkeypatch.setattr(
        connections.HTTPConnection, "_new_conn", lambda self: connected.append(self._dns_host) or socket.socket()
    )
    connection._new_conn().close()

    assert lookups == ["rebind.example"] and connected == ["93.184.216.34"]


def test_a_guarded_https_connection_verifies_the_certificate_for_the_host_name(https_site, tls_ca, monkeypatch):
    """The guard connects to the address it checked, but TLS (SNI, certificate) and the Host
    header must still be about the name: a real site's certificate names its host, not its IP."""
    import socket

    import requests

    from pipeline.fetch import guard
    from pipeline.fetch.connections import CrawlerAdapter

    resolve = socket.getaddrinfo
    monkeypatch.setattr(guard, "is_public", lambda address: address == "127.0.0.1")
    monkeypatch.setattr(socket, "getaddrinfo", lambda host, *args, **kw: resolve("127.0.0.1", *args, **kw))
    session = requests.Session()
    session.mount("https://", CrawlerAdapter(guarded=True))
    with tls_ca.cert_pem.tempfile() as ca:
        response = session.get(https_site.url("/html"), verify=ca, timeout=5)

    assert response.status_code == 200
    assert https_site.hosts == [https_site.base.removeprefix("https://")]


def test_through_a_proxy_a_name_with_any_private_address_is_refused(monkeypatch):
    """The proxy resolves the name again and may pick any of its addresses."""
    import socket

    from pipeline.fetch import guard

    answers = [("93.184.216.34", 80), ("10.0.0.7", 80)]
    monkeypatch.setattr(
        guard.socket, "getaddrinfo",
        lambda host, port, *args, **kw: [(socket.AF_INET, socket.SOCK_STREAM, 6, "", a) for a in answers],
    )

    assert public_address("mixed.example", 80)[1][0] == "93.184.216.34"
    with pytest.raises(PermanentFetchError) as info:
        guard.check_url("http://mixed.example/")
    assert info.value.reason.startswith("address not allowed: 10.0.0.7")
    answers.pop()
    guard.check_url("http://mixed.example/")
