"""Proxy URLs are checked at start-up, rotation skips a failed proxy for the cooldown,
and a SOCKS failure is blamed on the proxy only when the proxy is at fault."""

from __future__ import annotations

import socket

import pytest
import socks

from pipeline.errors import ConfigError
from pipeline.fetch.connections import _socks_proxy_at_fault
from pipeline.fetch.errors import EgressUnavailable
from pipeline.fetch.proxies import ProxyRotation, check, parse_proxy
from pipeline.settings import Settings


@pytest.mark.parametrize(
    ("url", "label"),
    [
        ("http://proxy.example:3128", "http://proxy.example:3128"),
        ("https://user:secret@proxy.example:443", "https://proxy.example:443"),
        ("socks5h://u:p@10.0.0.5:1080", "socks5h://10.0.0.5:1080"),
        ("SOCKS5://[2001:db8::1]:1080/", "socks5://[2001:db8::1]:1080"),
        ("socks4a://gw.example:1080", "socks4a://gw.example:1080"),
    ],
)
def test_proxy_urls_are_kept_whole_and_labelled_without_credentials(url, label):
    proxy = parse_proxy(url)

    assert proxy.url == url and proxy.label == label


@pytest.mark.parametrize(
    ("url", "complaint"),
    [
        ("ftp://proxy.example:21", "scheme must be one of"),
        ("proxy.example:3128", "scheme must be one of"),
        ("http://user:secret@proxy.example", "needs a host and a port"),
        ("http://:3128", "needs a host and a port"),
        ("http://proxy.example:99999", "needs a host and a port"),
        ("http://proxy.example:3128/path", "no path, query or fragment"),
    ],
)
def test_unusable_proxy_urls_are_refused_without_showing_the_password(url, complaint):
    with pytest.raises(ConfigError) as info:
        parse_proxy(url)

    assert complaint in str(info.value) and "secret" not in str(info.value)


def test_settings_read_the_proxy_list_and_the_check_refuses_a_bad_entry():
    settings = Settings.load({"CRAWLER_PROXIES": "http://a.example:3128, socks5h://b.example:1080"})
    assert settings.proxies == ("http://a.example:3128", "socks5h://b.example:1080")
    check(settings)

    with pytest.raises(ConfigError, match="CRAWLER_PROXIES"):
        check(Settings.load({"CRAWLER_PROXIES": "http://a.example:3128,gopher://b.example:70"}))


class Clock:
    def __init__(self) -> None:
        self.now = 100.0

    def __call__(self) -> float:
        return self.now


def _rotation(*names: str, cooldown: float = 60.0) -> tuple[ProxyRotation, Clock]:
    clock = Clock()
    return ProxyRotation([parse_proxy(f"http://{name}:3128") for name in names], cooldown, clock), clock


def test_proxies_take_turns():
    rotation, _ = _rotation("a", "b", "c")

    assert [rotation.pick().label for _ in range(4)] == [
        "http://a:3128", "http://b:3128", "http://c:3128", "http://a:3128",
    ]


def test_a_failed_proxy_sits_out_the_cooldown_and_then_returns():
    rotation, clock = _rotation("a", "b", cooldown=30)
    a = rotation.pick()
    rotation.failed(a, "unreachable")

    assert {rotation.pick().label for _ in range(3)} == {"http://b:3128"}
    clock.now += 30
    assert {rotation.pick().label for _ in range(2)} == {"http://a:3128", "http://b:3128"}


def test_with_every_proxy_failed_the_wait_is_until_the_first_returns():
    rotation, clock = _rotation("a", "b", cooldown=30)
    rotation.failed(rotation.pick(), "unreachable")
    clock.now += 10
    rotation.failed(rotation.pick(), "unreachable")

    with pytest.raises(EgressUnavailable) as info:
        rotation.pick()

    assert info.value.wait == pytest.approx(20)


@pytest.mark.parametrize(
    ("error", "blamed"),
    [
        (socks.ProxyConnectionError("Error connecting to SOCKS5 proxy", ConnectionRefusedError()), True),
        (socks.SOCKS5AuthError("All offered authentication methods were rejected"), True),
        (socks.GeneralProxyError("Connection closed unexpectedly"), True),
        (socks.GeneralProxyError("Socket error", ConnectionResetError()), True),
        (socks.GeneralProxyError("Socket error", socket.gaierror(-2, "Name or service not known")), False),
        (socks.GeneralProxyError("Socket error", TimeoutError("timed out")), False),
        (socks.SOCKS5Error("0x05: Connection refused"), False),
        (socks.SOCKS5Error("0x04: Host unreachable"), False),
        (socket.gaierror(-2, "Name or service not known"), True),  # the proxy's own name
        (ConnectionRefusedError(), False),
        (None, False),
    ],
)
def test_a_socks_failure_is_the_proxys_only_when_the_proxy_failed(error, blamed):
    assert _socks_proxy_at_fault(error) is blamed


@pytest.mark.parametrize(
    ("proxy", "url", "relays"),
    [
        ("http://p:3128", "http://site.example/", True),
        ("https://p:443", "http://site.example/", True),
        ("http://p:3128", "https://site.example/", False),  # a CONNECT tunnel: the 407 is the site's
        ("socks5h://p:1080", "http://site.example/", False),
    ],
)
def test_a_407_is_the_proxys_only_when_it_relays_the_request_itself(proxy, url, relays):
    assert parse_proxy(proxy).relays(url) is relays
