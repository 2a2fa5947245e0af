"""One page in real headless Chromium under the crawler's rules, without Redis or
Celery: what its scripts build is seen, and nothing it asks for escapes the rules.

The test sites run on loopback, which the address guard refuses. The browser never asks
for the page itself (its main document is answered from the fetched text), so a page
"from" 127.0.0.1 can be rendered under a job without allow_private, and then every
request its scripts make to loopback, to a name that resolves to 10.0.0.1, or to a
non-http scheme must be refused."""

from __future__ import annotations

import socket
import time
from collections.abc import Iterator
from typing import Any

import pytest

from pipeline.fetch import Fetcher, FetchResult
from pipeline.render import Answer, Browser, render, subfetch
from pipeline.render.browser import browser_processes, kill
from pipeline.settings import Policy
from tests.integration.site import Host, Response

CHROMIUM = "/usr/bin/chromium"
PRIVATE_NAME = "intranet.example"


@pytest.fixture
def browser() -> Iterator[Browser]:
    started = Browser(CHROMIUM, pages=100, memory_mb=2048)
    yield started
    started.close()


@pytest.fixture
def host() -> Iterator[Host]:
    served = Host("127.0.0.1").start()
    yield served
    served.stop()


def fetched(url: str, html: str) -> FetchResult:
    return FetchResult(url=url, final_url=url, status=200, content_type="text/html", text=html)


def rendered(browser: Browser, page: FetchResult, **policy: Any):
    limits = Policy(render="always", **policy)
    fetcher = Fetcher()
    return render(browser, page, limits, subfetch(lambda: fetcher, limits))


def test_the_dom_has_the_links_a_script_made_from_a_json_it_fetched(browser, host):
    host.routes["/links.json"] = Response(body='{"links": ["/one", "/two"]}', content_type="application/json")
    page = fetched(host.url("/"), """<html><body><div id="nav"></div><script>
        fetch('/links.json').then(r => r.json()).then(d => { for (const l of d.links) {
          const a = document.createElement('a'); a.href = l; document.getElementById('nav').appendChild(a); } });
        </script></body></html>""")

    result = rendered(browser, page, allow_private=True)

    assert result.error is None and result.requests == 1
    assert 'href="/one"' in result.html and 'href="/two"' in result.html
    assert host.requests() == {"/links.json": 1}, "the page itself is not asked for again"
    assert 0 < result.elapsed < 30


def test_no_request_of_the_browser_reaches_a_private_address_or_another_scheme(browser, host, monkeypatch):
    real = socket.getaddrinfo

    def resolve(name: str, *args: Any, **kwargs: Any) -> Any:
        if name == PRIVATE_NAME:
            return [(socket.AF_INET, socket.SOCK_STREAM, 6, "", ("10.0.0.1", args[0] if args else 80))]
        return real(name, *args, **kwargs)

    monkeypatch.setattr(socket, "getaddrinfo", resolve)
    port = host.server.server_address[1]
    host.routes["/secret"] = Response(body="secret")
    page = fetched(host.url("/"), f"""<html><body><script>
        fetch('/secret').catch(() => 0);
        fetch('http://{PRIVATE_NAME}:{port}/secret').catch(() => 0);
        fetch('file:///etc/passwd').catch(() => 0);
        try {{ new WebSocket('ws://127.0.0.1:{port}/socket'); }} catch (e) {{}}
        </script><img src="/secret.png"><iframe src="file:///etc/hostname"></iframe></body></html>""")

    result = rendered(browser, page, allow_private=False)

    time.sleep(0.5)
    assert host.requests() == {}, "nothing reached the loopback server"
    refused = "\n".join(result.refused)
    assert f"address not allowed: 127.0.0.1 (use --allow-private): {host.url('/secret')}" in refused
    assert f"address not allowed: 10.0.0.1 (use --allow-private): http://{PRIVATE_NAME}:{port}/secret" in refused
    assert result.error is None and result.requests == 2


def test_a_page_gets_only_its_share_of_requests_and_no_images(browser, host):
    for n in range(5):
        host.routes[f"/data/{n}"] = Response(body="{}", content_type="application/json")
    host.routes["/logo.png"] = Response(body=b"\x89PNG", content_type="image/png")
    calls = "".join(f"fetch('/data/{n}').catch(() => 0);" for n in range(5))
    page = fetched(host.url("/"), f'<html><body><img src="/logo.png"><script>{calls}</script></body></html>')

    result = rendered(browser, page, allow_private=True, render_max_requests=2)

    assert result.requests == 2
    assert sum(host.requests().values()) == 2 and "/logo.png" not in host.requests()
    assert sum("past the page's requests" in line for line in result.refused) == 3


def test_a_page_that_hangs_the_browser_fails_within_its_budget_and_the_next_page_renders(browser, host):
    hang = fetched(host.url("/hang"), "<html><body><script>while (true) {}</script></body></html>")

    started = time.monotonic()
    result = rendered(browser, hang, allow_private=True, render_timeout=3.0)

    assert result.html is None and result.error == "render timeout"
    assert time.monotonic() - started < 3.0 + 10.0
    after = rendered(browser, fetched(host.url("/"), "<html><body><script>document.title='ok'</script></body></html>"),
                     allow_private=True)
    assert after.error is None and "<title>ok</title>" in after.html


def test_a_browser_is_started_afresh_after_its_pages(host):
    browser = Browser(CHROMIUM, pages=1, memory_mb=2048)
    try:
        for n in range(3):
            page = fetched(host.url(f"/{n}"), f"<html><body><script>document.title='p{n}'</script></body></html>")
            result = rendered(browser, page, allow_private=True)
            assert result.error is None and f"<title>p{n}</title>" in result.html
            assert browser.started == n + 1
    finally:
        browser.close()


def test_a_browser_past_its_memory_ceiling_is_started_afresh(host):
    browser = Browser(CHROMIUM, pages=100, memory_mb=1)
    try:
        for n in range(2):
            result = rendered(browser, fetched(host.url(f"/{n}"), "<html><body>page</body></html>"),
                              allow_private=True)
            assert result.error is None and browser.started == n + 1
        assert browser_processes() == [], "the last one is stopped too, past the ceiling"
    finally:
        browser.close()


def test_a_page_whose_browser_dies_fails_and_the_next_page_gets_a_fresh_browser(browser, host):
    def die(url: str, seconds: float) -> Answer:
        kill(browser_processes())
        raise AssertionError("never answered")

    page = fetched(host.url("/"), "<html><body><script>fetch('/data.json')</script></body></html>")
    result = render(browser, page, Policy(render="always", allow_private=True), die)

    assert result.html is None and result.error in ("browser crashed", "render failed"), result
    after = rendered(browser, fetched(host.url("/after"), "<html><body><script>document.title='ok'</script></body>"
                                                          "</html>"), allow_private=True)
    assert after.error is None and "<title>ok</title>" in after.html and browser.started == 2
