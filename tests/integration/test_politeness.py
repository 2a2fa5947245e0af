"""Politeness for the whole cluster, measured where it matters: in the server's own log."""

from __future__ import annotations

import itertools

from pipeline.frontier import JobState
from tasks import seed
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import cli_env, crawler, status_json
from tests.integration.cluster import wait_until
from tests.integration.site import Host, Response, page


def _start_times(host: Host) -> list[float]:
    """Every request the host saw, robots.txt included: it is a request like the others."""
    return sorted(when for when, _ in host.log)


def _tree(host: Host, pages: int) -> Host:
    host.routes["/"] = page("root", [f"/p/{i}" for i in range(1, pages + 1)])
    for i in range(1, pages + 1):
        host.routes[f"/p/{i}"] = page(f"p{i}")
    return host.start()


def test_four_workers_keep_the_delay_between_request_starts(cluster, record_property):
    host = _tree(Host("127.0.0.1"), 12)
    other = _tree(Host("127.0.0.2"), 12)
    try:
        for name in ("w1", "w2", "w3", "w4"):
            cluster.start_worker(name, concurrency=2)
        cluster.start_beat()
        seed([host.url("/"), other.url("/")], job="polite", allow_private=True, delay=0.5, host_concurrency=4)
        cluster.wait_finished("polite", timeout=60)
    finally:
        host.stop()
        other.stop()

    for server in (host, other):
        starts = _start_times(server)
        gaps = [b - a for a, b in itertools.pairwise(starts)]
        record_property(f"min_gap_{server.base}", round(min(gaps), 3))
        assert len(starts) == 14, "robots.txt and 13 pages"
        assert min(gaps) >= 0.45, gaps
    first, second = _start_times(host), _start_times(other)
    assert first[0] < second[-1] and second[0] < first[-1], "the two hosts are crawled side by side"


def test_robots_crawl_delay_wins_over_a_smaller_delay(cluster):
    host = Host("127.0.0.1")
    host.routes["/robots.txt"] = Response(body="User-agent: *\nCrawl-delay: 0.6\n", content_type="text/plain")
    _tree(host, 6)
    try:
        cluster.start_worker("w1", concurrency=2)
        cluster.start_worker("w2", concurrency=2)
        cluster.start_beat()
        seed([host.url("/")], job="crawldelay", allow_private=True, delay=0, host_concurrency=4)
        cluster.wait_finished("crawldelay", timeout=60)
    finally:
        host.stop()

    starts = _start_times(host)
    assert len(starts) == 8, "robots.txt and 7 pages"
    # From the first request after robots.txt on, its Crawl-delay holds.
    assert min(b - a for a, b in itertools.pairwise(starts[1:])) >= 0.55
    assert starts[1] - starts[0] >= 0.55, "even the first page waits out the Crawl-delay after robots.txt"


def test_retry_after_pauses_the_host_and_a_persistent_500_gives_up(cluster):
    host = Host("127.0.0.1")
    host.routes["/"] = page("root", ["/busy", "/broken", "/fine"])
    host.routes["/busy"] = Response(429, "slow down", headers={"Retry-After": "2"})
    host.routes["/broken"] = Response(500, "oops")
    host.routes["/fine"] = page("fine")
    host.start()
    try:
        cluster.start_worker("w1", concurrency=2)
        cluster.start_beat()
        seed([host.url("/")], job="retries", allow_private=True, delay=0, host_concurrency=1,
             max_retries=2, retry_backoff=0.1)
        cluster.wait_finished("retries", timeout=60)
        records = {record.url: record for record in cluster.records("retries")}
    finally:
        host.stop()

    requests = host.requests()
    assert requests["/broken"] == 3 and requests["/busy"] == 3
    assert records[host.url("/broken")].error == "HTTP 500" and records[host.url("/broken")].status == 500
    assert records[host.url("/busy")].error == "HTTP 429"
    assert records[host.url("/fine")].error is None
    busy = [when for when, path in host.log if path == "/busy"]
    after_busy = [when for when, path in host.log if path != "/robots.txt" and when > busy[0]]
    assert after_busy[0] - busy[0] >= 1.9, "nothing is requested from the host during Retry-After"


def test_one_failing_url_does_not_pause_its_host(cluster):
    """A 500 is the URL's failure, not the host's: the URL waits 1 to 2 s for its retry
    while the host's other pages go on (a 503 or 429 would pause the host, test_failures)."""
    host = Host("127.0.0.1", delay=0.05)
    host.routes["/"] = page("root", ["/broken"] + [f"/p/{i}" for i in range(40)])
    host.routes["/broken"] = Response(500, "oops")
    for i in range(40):
        host.routes[f"/p/{i}"] = page(f"p{i}")
    host.start()
    try:
        cluster.start_worker("w1", concurrency=2)
        cluster.start_worker("w2", concurrency=2)
        cluster.start_beat()
        seed([host.url("/")], job="failing", allow_private=True, delay=0, host_concurrency=4,
             max_retries=1, retry_backoff=2.0)
        cluster.wait_finished("failing", timeout=60)
    finally:
        host.stop()

    first_failure = min(when for when, path in host.log if path == "/broken")
    after = sorted(when for when, path in host.log if path.startswith("/p/") and when > first_failure)
    gaps = [b - a for a, b in zip([first_failure, *after], after, strict=False)]
    assert len(after) > 10 and max(gaps) < 0.9, "the host's other pages went on while the URL waited"


def test_status_lists_the_hosts_that_are_paused_and_why(cluster, tmp_path):
    host = Host("127.0.0.1")
    host.routes["/"] = page("root", ["/busy", "/later"])
    host.routes["/busy"] = Response(503, "maintenance", headers={"Retry-After": "30"})
    host.routes["/later"] = page("later")
    host.start()
    env = cli_env(TEST_REDIS_URL)
    try:
        cluster.start_worker("w1", concurrency=2)
        cluster.start_beat()
        seed([host.url("/")], job="paused", allow_private=True, delay=0, host_concurrency=1)
        wait_until(lambda: host.requests()["/busy"] == 1, "the host to ask for a pause")
        wait_until(lambda: status_json(tmp_path, "paused", env)["backing_off"] == 1, "the pause to show")
        status = status_json(tmp_path, "paused", env)
        text = crawler(tmp_path, "status", "--job", "paused", env=env).stdout
        cluster.frontier("paused").set_state(JobState.CANCELLED)
    finally:
        host.stop()

    netloc = host.base.removeprefix("http://")
    [paused] = status["backoffs"]
    assert paused["host"] == netloc and paused["reason"] == "HTTP 503, Retry-After"
    assert 20 < paused["seconds_left"] <= 30
    assert "hosts paused 1" in text and f"{netloc} paused for" in text and "(HTTP 503, Retry-After)" in text
    assert host.requests()["/later"] == 0
