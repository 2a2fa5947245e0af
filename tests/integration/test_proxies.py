"""Egress through proxies, against a real proxy server: every kind of proxy carries the
requests, a dead or refusing proxy is taken out of rotation, nothing goes out directly
when all are down, and the address guard and the download deadline still hold. Last, a
worker host with no route to the site crawls it whole through its proxies."""

from __future__ import annotations

import logging
import socketserver
import ssl
import subprocess
import sys
import threading
import time
import warnings

import pytest
import trustme
from urllib3.exceptions import InsecureRequestWarning

from pipeline.fetch import (
    EgressUnavailable,
    Fetcher,
    PermanentFetchError,
    ProxyRotation,
    TransientFetchError,
    parse_proxy,
)
from pipeline.frontier import JobState
from pipeline.settings import Policy
from pipeline.store import open_store
from tasks import seed
from tests.conftest import TEST_REDIS_URL
from tests.integration.cluster import Cluster, wait_until
from tests.integration.hosts import MultiHost
from tests.integration.netns import GATEWAY, Network, available
from tests.integration.proxy import ProxyServer, dead_proxy_url, free_port
from tests.integration.site import Host, Response, page

POLICY = Policy(allow_private=True, timeout=5.0)


@pytest.fixture
def origin():
    host = Host("127.0.0.4")
    for i in range(6):
        host.routes[f"/{i}"] = page(f"page {i}")
    host.start()
    yield host
    host.stop()


@pytest.fixture
def proxy(tmp_path):
    server = ProxyServer(tmp_path / "proxy.log")
    yield server
    server.stop()


def _fetcher(*urls: str, cooldown: float = 60.0) -> Fetcher:
    return Fetcher(ProxyRotation([parse_proxy(url) for url in urls], cooldown))


def _target(host: Host) -> str:
    return host.base.removeprefix("http://")


@pytest.mark.parametrize("scheme", ["http", "socks5", "socks5h", "socks4"])
def test_each_kind_of_proxy_carries_the_requests(origin, proxy, scheme):
    fetcher = _fetcher(proxy.url(scheme))
    try:
        results = [fetcher.fetch(origin.url(f"/{i}"), POLICY) for i in range(3)]
    finally:
        fetcher.close()

    assert [r.status for r in results] == [200, 200, 200]
    assert "page 2" in results[2].text
    assert proxy.carried(_target(origin)), "the proxy's log shows no connection to the site"


@pytest.mark.parametrize("dead_scheme", ["http", "socks5"])
def test_a_dead_proxy_is_taken_out_of_rotation_and_the_next_one_used(origin, proxy, dead_scheme, caplog):
    dead = dead_proxy_url(dead_scheme)
    fetcher = _fetcher(dead, proxy.url("http"))
    caplog.set_level(logging.WARNING, logger="pipeline.fetch.proxies")
    try:
        statuses = [fetcher.fetch(origin.url(f"/{i}"), POLICY).status for i in range(6)]
    finally:
        fetcher.close()

    assert statuses == [200] * 6
    benched = [r.getMessage() for r in caplog.records if "out of rotation" in r.getMessage()]
    assert len(benched) == 1 and dead.split("//")[1] in benched[0] and "unreachable" in benched[0]
    assert sum(origin.requests().values()) == 6


def test_with_every_proxy_down_nothing_goes_out_directly(origin):
    fetcher = _fetcher(dead_proxy_url("http"), dead_proxy_url("socks5h"))
    try:
        with pytest.raises(EgressUnavailable) as info:
            fetcher.fetch(origin.url("/0"), POLICY)
        with pytest.raises(EgressUnavailable):
            fetcher.fetch(origin.url("/1"), POLICY)
    finally:
        fetcher.close()

    assert "all 2 proxies failed" in info.value.reason and 0 < info.value.wait <= 60
    assert not origin.requests()


def test_a_proxy_that_refuses_our_credentials_is_taken_out(origin, tmp_path):
    guarded = ProxyServer(tmp_path / "auth.log", protocols="http", auth="crawler:right")
    wrong = _fetcher(guarded.url("http", "crawler:wrong"))
    right = _fetcher(guarded.url("http", "crawler:right"))
    try:
        with pytest.raises(EgressUnavailable):
            wrong.fetch(origin.url("/0"), POLICY)
        assert right.fetch(origin.url("/1"), POLICY).status == 200
    finally:
        wrong.close()
        right.close()
        guarded.stop()

    assert list(origin.requests()) == ["/1"]


@pytest.mark.parametrize("scheme", ["http", "socks5h"])
def test_the_address_guard_refuses_private_targets_before_the_proxy_sees_them(origin, proxy, scheme):
    fetcher = _fetcher(proxy.url(scheme))
    try:
        with pytest.raises(PermanentFetchError) as info:
            fetcher.fetch(origin.url("/0"), Policy(timeout=5.0))
    finally:
        fetcher.close()

    assert info.value.reason.startswith("address not allowed: 127.0.0.4")
    assert not proxy.carried(_target(origin)) and not origin.requests()


@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_the_download_deadline_holds_through_a_proxy(origin, proxy, scheme):
    def trickle_headers(handler) -> None:
        """Header lines every 50 ms: no read timeout trips, only the watchdog can cut it."""
        handler.wfile.write(b"HTTP/1.1 200 OK\r\n")
        try:
            for number in range(100):
                handler.wfile.write(f"X-Slow-{number}: y\r\n".encode())
                handler.wfile.flush()
                time.sleep(0.05)
            handler.wfile.write(b"Content-Length: 0\r\n\r\n")
        except OSError:
            pass

    origin.routes["/slow"] = trickle_headers
    fetcher = _fetcher(proxy.url(scheme))
    started = time.monotonic()
    try:
        with pytest.raises(TransientFetchError) as info:
            fetcher.fetch(origin.url("/slow"), Policy(allow_private=True, timeout=5.0, download_deadline=0.5))
    finally:
        fetcher.close()

    assert info.value.reason == "download deadline exceeded"
    assert time.monotonic() - started < 2


@pytest.fixture
def tls_origin():
    """An https:// site on 127.0.0.5 with a certificate from a throwaway CA; yields the
    host and the CA file to trust."""
    ca = trustme.CA()
    host = Host("127.0.0.5")
    host.routes["/0"] = page("secure page")
    host.routes["/denied"] = Response(407, "members only", headers={"Proxy-Authenticate": "Basic"})
    context = ssl.create_default_context(ssl.Purpose.CLIENT_AUTH)
    ca.issue_cert("127.0.0.5").configure_cert(context)
    host.server.socket = context.wrap_socket(host.server.socket, server_side=True)
    host.start()
    with ca.cert_pem.tempfile() as path:
        yield host, path
    host.stop()


def _https(host: Host, path: str) -> str:
    return host.base.replace("http://", "https://") + path


def _trusting(fetcher: Fetcher, ca: str) -> Fetcher:
    fetcher.session(POLICY).verify = ca
    return fetcher


@pytest.mark.parametrize("scheme", ["http", "socks5"])
def test_https_sites_are_reached_through_the_proxy_with_their_certificate_checked(tls_origin, proxy, scheme):
    host, ca = tls_origin
    fetcher = _trusting(_fetcher(proxy.url(scheme)), ca)
    try:
        result = fetcher.fetch(_https(host, "/0"), POLICY)
    finally:
        fetcher.close()

    assert result.status == 200 and "secure page" in result.text
    assert proxy.carried(_target(host))


def test_a_407_from_the_site_through_a_tunnel_is_the_sites_answer(tls_origin, proxy, caplog):
    host, ca = tls_origin
    fetcher = _trusting(_fetcher(proxy.url("http")), ca)
    caplog.set_level(logging.WARNING, logger="pipeline.fetch.proxies")
    try:
        denied = fetcher.fetch(_https(host, "/denied"), POLICY)
        after = fetcher.fetch(_https(host, "/0"), POLICY)
    finally:
        fetcher.close()

    assert denied.status == 407 and denied.error == "HTTP 407"
    assert after.status == 200
    assert "out of rotation" not in caplog.text


def test_an_https_proxy_must_present_a_certificate_we_trust(origin, tmp_path):
    """TLS to the proxy carries the requests and the proxy credentials: it is verified
    even when the site itself is plain http."""
    ca = trustme.CA()
    issued = ca.issue_cert("127.0.0.1")
    certificate, key = tmp_path / "proxy.crt", tmp_path / "proxy.key"
    issued.cert_chain_pems[0].write_to_path(str(certificate))
    issued.private_key_pem.write_to_path(str(key))
    secure = ProxyServer(tmp_path / "tls-proxy.log", protocols="http", tls=(certificate, key))
    trusted, untrusting = _fetcher(secure.url("https")), _fetcher(secure.url("https"))
    try:
        with ca.cert_pem.tempfile() as path, warnings.catch_warnings():
            warnings.simplefilter("error", InsecureRequestWarning)
            assert _trusting(trusted, path).fetch(origin.url("/0"), POLICY).status == 200
        with pytest.raises(EgressUnavailable):
            untrusting.fetch(origin.url("/1"), POLICY)
    finally:
        trusted.close()
        untrusting.close()
        secure.stop()

    assert list(origin.requests()) == ["/0"]

class _BadGatewayProxy(socketserver.ThreadingTCPServer):
    """A proxy that answers every CONNECT with 502, as one does when the site is down."""

    daemon_threads = True

    def __init__(self) -> None:
        class Handler(socketserver.StreamRequestHandler):
            def handle(self) -> None:
                while self.rfile.readline() not in (b"\r\n", b""):
                    pass
                self.wfile.write(b"HTTP/1.1 502 Bad Gateway\r\nContent-Length: 0\r\n\r\n")

        super().__init__(("127.0.0.1", 0), Handler)
        threading.Thread(target=self.serve_forever, daemon=True).start()


def test_a_site_the_proxy_cannot_reach_fails_as_the_sites_failure(caplog):
    gateway = _BadGatewayProxy()
    rotation = ProxyRotation([parse_proxy(f"http://127.0.0.1:{gateway.server_address[1]}")], 60.0)
    fetcher = Fetcher(rotation)
    caplog.set_level(logging.WARNING, logger="pipeline.fetch.proxies")
    try:
        with pytest.raises(TransientFetchError) as info:
            fetcher.fetch("https://127.0.0.5:9/", POLICY)
    finally:
        fetcher.close()
        gateway.shutdown()
        gateway.server_close()

    assert info.value.reason == "the proxy could not reach the site (CONNECT: 502)"
    assert "out of rotation" not in caplog.text
    rotation.pick()

def test_urls_wait_out_a_proxy_outage_without_spending_their_retries(tmp_path, redis_client, origin):
    """With no retries allowed, a URL that failed on the site's side would be recorded as
    failed at once; a URL held up by our own proxy being down must wait for it instead."""
    origin.routes["/"] = page("root", [f"/{i}" for i in range(6)])
    port = free_port("127.0.0.1")
    cluster = Cluster(tmp_path, TEST_REDIS_URL, CRAWLER_PROXIES=f"http://127.0.0.1:{port}", CRAWLER_PROXY_COOLDOWN="1")
    proxy = None
    try:
        cluster.start_worker()
        cluster.start_beat()
        seed([origin.url("/")], job="outage", allow_private=True, delay=0, max_retries=0, host_concurrency=2)
        wait_until(
            lambda: cluster.logs().count("out of rotation") >= 3, "the worker to find its proxy down a few times"
        )
        assert not origin.requests()
        proxy = ProxyServer(tmp_path / "proxy.log", port=port)
        cluster.wait_finished("outage")
        records = cluster.records("outage")
    finally:
        cluster.stop()
        if proxy is not None:
            proxy.stop()

    assert sorted(r.url for r in records) == sorted([origin.url("/")] + [origin.url(f"/{i}") for i in range(6)])
    assert [r.error for r in records if r.error] == []
    assert proxy.carried(_target(origin))


def test_a_worker_host_without_a_route_to_the_site_crawls_it_through_its_proxies(tmp_path):
    """The site listens on the root namespace's loopback, which the worker's namespace
    cannot reach; only the proxies on the bridge can. Its list starts with a dead proxy.
    Whether namespaces can be made is probed here, not at import: the probe makes one,
    and collecting the other tests of this module must not."""
    unavailable = available()
    if unavailable is not None:
        pytest.skip(unavailable)
    pages = 60
    with Network(1) as network:
        site = Host("127.0.0.9")
        site.routes["/"] = page("root", ["/p/1"])
        for i in range(1, pages + 1):
            site.routes[f"/p/{i}"] = page(f"p{i}", [f"/p/{c}" for c in (2 * i, 2 * i + 1) if c <= pages])
        site.start()
        proxy = ProxyServer(tmp_path / "proxy.log", address=GATEWAY)
        dead = dead_proxy_url("http", GATEWAY)
        proxies = f"{dead},{proxy.url('http')},{proxy.url('socks5')}"
        hosts = MultiHost(tmp_path, network, CRAWLER_PROXIES=proxies, CRAWLER_PROXY_COOLDOWN="600")
        try:
            worker_host = network.names[0]
            port = site.server.server_address[1]
            direct = subprocess.run(
                network.command(worker_host, [sys.executable, "-c",
                                              f"import socket; socket.create_connection(('127.0.0.9', {port}), 2)"]),
                capture_output=True, timeout=30,
            )
            assert direct.returncode != 0, "the worker's host must not reach the site directly"

            frontier = hosts.start_crawl(site, "egress")
            wait_until(lambda: frontier.stats().state == JobState.FINISHED, "the crawl to finish", timeout=120)
            store = open_store(hosts.store_url)
            try:
                records = list(store.records("egress"))
            finally:
                store.close()
            worker_log = (tmp_path / f"{worker_host}.log").read_text()
        finally:
            hosts.stop()
            proxy.stop()
            site.stop()

    expected = sorted([site.url("/")] + [site.url(f"/p/{i}") for i in range(1, pages + 1)])
    assert sorted(r.url for r in records) == expected
    assert [r for r in records if r.error] == []
    assert max(site.requests().values()) == 1, "each URL requested once"
    carried = proxy.carried(f"127.0.0.9:{port}")
    assert any(line.startswith("http ") for line in carried) and any(line.startswith("socks5 ") for line in carried)
    # The rotation is kept per process: each of the worker's two pool processes tried the
    # dead proxy once and never again within the cooldown.
    assert 1 <= worker_log.count(f"proxy {dead} failed (unreachable)") <= 2
