"""The broad benchmark's judges of what it measures: the site (bench/broad/site.py)
must serve every host the statuses and robots.txt its manifest promises, the politeness
check (bench/broad/politeness.py) must flag requests that reach a host too close together
and pass a log that keeps the delay, and the limits (bench/broad/limits.py) must count
every request a host gets. The site is served on loopback with its latencies
scaled down, so the whole file takes about a second."""

from __future__ import annotations

import http.client
import importlib.util
import sys
import threading
from collections.abc import Callable, Iterator
from pathlib import Path
from types import ModuleType

import pytest

BROAD = Path(__file__).resolve().parents[3] / "bench" / "broad"


def _load(name: str) -> ModuleType:
    """bench/broad holds scripts, not a package (and its site.py would shadow the stdlib's)."""
    spec = importlib.util.spec_from_file_location(f"broad_{name}", BROAD / f"{name}.py")
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


site = _load("site")
politeness = _load("politeness")
limits = _load("limits")
Event = politeness.Event
SHAPE = site.Shape(hosts=3, pages_per_host=3, seed=7, latency_scale=0.01)


@pytest.fixture
def served(tmp_path: Path) -> Iterator[tuple[object, Path, Callable[[], None]]]:
    """The site of SHAPE on a free port, in a thread of its own; its log file; and what
    stops it (after which its log is complete)."""
    log_path = tmp_path / "arrivals.log"
    with open(log_path, "a") as stream:
        server = site.Server(SHAPE, 0, site.EventLog(stream))
        thread = threading.Thread(target=lambda: site.asyncio.run(server.serve()), daemon=True)

        def stop() -> None:
            server.stop()
            thread.join(10)

        thread.start()
        try:
            yield server, log_path, stop
        finally:
            stop()


def _get(address: str, port: int, path: str) -> tuple[int, bytes]:
    connection = http.client.HTTPConnection(address, port, timeout=5)
    try:
        connection.request("GET", path)
        response = connection.getresponse()
        return response.status, response.read()
    finally:
        connection.close()


def test_every_host_answers_with_the_promised_statuses_and_robots_txt(served):
    server, log_path, stop = served
    manifest = site.manifest(SHAPE, server.hosts, server.port)
    hosts = [host["address"] for host in manifest["hosts"]]

    for address in hosts:
        status, robots = _get(address, server.port, "/robots.txt")
        assert status == 200 and b"Disallow: /private/" in robots
        status, home = _get(address, server.port, "/")
        assert status == 200 and b"/page/1.html" in home and b"/private/" in home
        assert 15_000 <= len(home) <= 30_000
        assert _get(address, server.port, "/page/2.html")[0] == 200
        assert _get(address, server.port, manifest["broken_path"])[0] == 500
        assert _get(address, server.port, "/no-such-page")[0] == 404
    assert _get(hosts[0], server.port, "/late.html")[0] == 200  # every 10th host from the first
    assert _get(hosts[1], server.port, "/late.html")[0] == 404
    assert manifest["html_pages"] == 3 * 3 + 1 and manifest["robots"] == 3
    assert len(manifest["few_seeds"]) == 3 and len(set(hosts)) == 3
    # a home page links to the next host's, so a crawl seeded with one host finds them all
    assert f"http://{hosts[1]}:{server.port}/".encode() in _get(hosts[0], server.port, "/")[1]

    stop()
    events = politeness.read(log_path, 0, log_path.stat().st_size)
    arrivals = [event for event in events if event.kind == "A"]
    assert len(arrivals) == 5 * 3 + 3
    assert {event.host for event in arrivals} == set(hosts)


def test_the_same_seed_renders_the_same_bytes():
    hosts = site.plan(SHAPE)

    assert site.render(SHAPE, hosts, 8000) == site.render(SHAPE, site.plan(SHAPE), 8000)


def _polite(host: str, start: float) -> list[Event]:
    """robots.txt, then three pages, one at a time, 1 s apart, each answered in 0.2 s."""
    events = []
    for step, path in enumerate(["/robots.txt", "/", "/page/1.html", "/page/2.html"]):
        events += [Event("A", start + step, host, path), Event("S", start + step + 0.2, host, path)]
    return events


def _judge(events: list[Event]) -> object:
    return politeness.judge(events, delay=1.0, broken_path="/api/broken", disallowed_prefix="/private/")


def test_a_log_that_keeps_the_delay_passes():
    events = _polite("127.1.0.1", 100.0) + _polite("127.1.0.2", 100.1)
    # the timer slack: 3 ms short of the delay is still polite
    events += [Event("A", 103.997, "127.1.0.3", "/"), Event("S", 104.1, "127.1.0.3", "/")]
    events += [Event("A", 100.0, "127.1.0.3", "/robots.txt"), Event("S", 100.2, "127.1.0.3", "/robots.txt")]

    verdict = _judge(events)

    assert (verdict.requests, verdict.hosts) == (10, 3)
    assert verdict.too_close == verdict.overlaps == verdict.repeats == verdict.disallowed == 0
    assert verdict.min_gap_s == pytest.approx(1.0)


def test_two_arrivals_closer_than_the_delay_are_flagged():
    events = _polite("127.1.0.1", 100.0) + _polite("127.1.0.2", 100.0) + _polite("127.1.0.3", 100.0)
    events += [Event("A", 103.6, "127.1.0.2", "/page/3.html"), Event("S", 103.7, "127.1.0.2", "/page/3.html")]
    events += [Event("A", 103.98, "127.1.0.3", "/page/3.html"), Event("S", 104.1, "127.1.0.3", "/page/3.html")]

    verdict = _judge(events)

    assert (verdict.too_close, verdict.hosts_too_close) == (2, 2)  # /page/2.html, then /page/3.html
    assert verdict.under_half == 0  # 0.6 and 0.98 s: not half the delay
    assert verdict.min_gap_s == pytest.approx(0.6)
    assert verdict.overlaps == 0
    events += [Event("A", 103.3, "127.1.0.1", "/page/4.html"), Event("S", 103.4, "127.1.0.1", "/page/4.html")]
    assert _judge(events).under_half == 1


def test_overlaps_repeats_retries_and_disallowed_paths_are_counted():
    host = "127.1.0.1"
    events = [
        Event("A", 0.0, host, "/"), Event("A", 1.5, host, "/page/1.html"),  # a second one while / is unanswered
        Event("S", 2.0, host, "/"), Event("S", 2.1, host, "/page/1.html"),
        Event("A", 3.0, host, "/"), Event("S", 3.1, host, "/"),  # / again
        Event("A", 4.0, host, "/api/broken"), Event("S", 4.1, host, "/api/broken"),
        Event("A", 5.0, host, "/api/broken"), Event("S", 5.1, host, "/api/broken"),  # a retry of the 500
        Event("A", 6.0, host, "/private/3.html"), Event("S", 6.1, host, "/private/3.html"),
    ]

    verdict = _judge(events)

    assert (verdict.overlaps, verdict.repeats, verdict.broken_retries, verdict.disallowed) == (1, 1, 1, 1)
    assert verdict.too_close == 0


def test_log_lines_are_parsed_and_marks_skipped():
    lines = ["A 1.000000 127.1.0.1 /", "S 1.200000 127.1.0.1 / 200", "#flushed 1.3", "A 2.0 127.1.0"]

    assert politeness.parse(lines) == [Event("A", 1.0, "127.1.0.1", "/"), Event("S", 1.2, "127.1.0.1", "/")]


LIMITS_MANIFEST = {
    "shape": {"pages_per_host": 20},
    "late_extra_s": 4.0,
    "hosts": [{"latency": 3.0, "late_page": False}, {"latency": 0.2, "late_page": True}],
}


def test_the_slowest_host_counts_robots_txt_the_sitemap_probe_and_every_retry():
    project = limits.Visits(retries=3, sitemap=True, first_backoff=1.0, backoff_cap=60.0)
    scrapy = limits.scrapy_visits([])

    # 3 s a request: robots.txt, /sitemap.xml, 20 pages and the broken URL 4 times.
    assert limits.slowest_host_seconds(LIMITS_MANIFEST, project, delay=1.0) == pytest.approx(26 * 3.0)
    # Scrapy reads no sitemap and retries twice.
    assert limits.slowest_host_seconds(LIMITS_MANIFEST, scrapy, delay=1.0) == pytest.approx(24 * 3.0)
    assert limits.scrapy_visits(["RETRY_TIMES=5"]).retries == 5


def test_a_long_backoff_makes_the_retry_chain_the_bound():
    patient = limits.Visits(retries=3, sitemap=False, first_backoff=30.0, backoff_cap=60.0)
    fast_host = LIMITS_MANIFEST["hosts"][1]

    # After robots.txt and the home page (1 s turns), three retries each waiting its
    # backoff (30, 60 and 60 s: the cap) after a 0.2 s answer, then the last answer.
    assert limits.host_seconds(fast_host, patient, delay=1.0, pages=20, late_extra=4.0) == pytest.approx(
        2.0 + 30.2 + 60.2 + 60.2 + 0.2
    )


def test_the_projects_visits_follow_its_settings_and_its_least_backoff(monkeypatch):
    from pipeline.crawl import fate
    from pipeline.settings import Settings

    # The least of each retry's random wait, as fate.backoff draws it.
    monkeypatch.setattr(fate.random, "uniform", lambda low, high: low)
    policy = Settings.load({}).policy

    defaults = limits.project_visits({})
    assert (defaults.retries, defaults.sitemap) == (policy.max_retries, True)
    assert defaults.waits() == [fate.backoff(attempt, policy) for attempt in range(policy.max_retries)]
    assert limits.project_visits({"CRAWLER_MAX_RETRIES": "1"}).retries == 1
    assert limits.scrapy_visits(["RETRY_ENABLED=False"]).retries == 0
