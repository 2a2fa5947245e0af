"""Politeness for the whole cluster, measured where it matters: in the server's own log."""

from __future__ import annotations

from tasks import seed
from tests.integration.site import Host, Response, page


def _start_times(host: Host) -> list[float]:
    return sorted(when for when, path in host.log if path != "/robots.txt")


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
        gaps = [b - a for a, b in zip(starts, starts[1:], strict=False)]
        record_property(f"min_gap_{server.base}", round(min(gaps), 3))
        assert len(starts) == 13
        assert min(gaps) >= 0.45, gaps
    both = sorted(_start_times(host) + _start_times(other))
    assert both[-1] - both[0] < 13 * 0.5, "the two hosts are crawled side by side"


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
    assert len(starts) == 7
    assert min(b - a for a, b in zip(starts[1:], starts[2:], strict=False)) >= 0.55


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
