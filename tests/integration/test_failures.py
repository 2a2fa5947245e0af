"""A URL's failure is the URL's, a host's is the host's, measured in the server's log of
request arrivals: a few broken or slow URLs retry on their own while the host's other
pages go on, and a host that asks for a pause still gets it from every worker."""

from __future__ import annotations

import itertools
import time
from collections import Counter
from http.server import BaseHTTPRequestHandler

from tasks import seed
from tests.integration.site import Host, Response, page

PAGES = 300
FAILING = ["/broken/1", "/broken/2", "/slow"]
# One request may take this long (the slow URL answers after SLOW_ANSWER seconds).
TIMEOUT = 1.0
SLOW_ANSWER = 3.0
RETRIES = {"max_retries": 3, "retry_backoff": 1.0, "timeout": TIMEOUT}
# The longest retry chain of one failing URL: every attempt timing out, every backoff
# at its longest (1 + 2 + 4 s), and a dispatcher tick (1 s) before each retry.
CHAIN = (RETRIES["max_retries"] + 1) * TIMEOUT + 7.0 + RETRIES["max_retries"] * 1.0
# Time a crawl may take over its bound: the workers' start, a loaded machine.
SLACK = 3.0


def _slow(handler: BaseHTTPRequestHandler) -> None:
    time.sleep(SLOW_ANSWER)
    body = page("slow").body.encode()
    handler.send_response(200)
    handler.send_header("Content-Length", str(len(body)))
    handler.end_headers()
    handler.wfile.write(body)


def _site(failing: bool) -> Host:
    """One host: a front page listing PAGES healthy pages, and with `failing` two pages
    that always answer 500 and one that answers after SLOW_ANSWER seconds, spread over
    the first half of the list so that they fail while much of the site is still to crawl."""
    host = Host("127.0.0.1")
    healthy = [f"/p/{i}" for i in range(PAGES)]
    links = list(healthy)
    if failing:
        for index, path in zip((5, 60, 120), FAILING, strict=True):
            links.insert(index, path)
    host.routes["/"] = page("root", links)
    for path in healthy:
        host.routes[path] = page(path)
    if failing:
        host.routes["/broken/1"] = Response(500, "oops")
        host.routes["/broken/2"] = Response(500, "oops")
        host.routes["/slow"] = _slow
    return host.start()


def _crawl(cluster, host: Host, job: str) -> list[tuple[float, str]]:
    try:
        seed([host.url("/")], job=job, allow_private=True, delay=0, host_concurrency=1, **RETRIES)
        cluster.wait_finished(job, timeout=120)
    finally:
        host.stop()
    return sorted(host.log)


def test_a_few_failing_urls_do_not_stall_their_host(cluster, record_property):
    cluster.start_worker("w1", concurrency=4)
    cluster.start_beat()
    baseline = _crawl(cluster, _site(failing=False), "healthy")
    log = _crawl(cluster, _site(failing=True), "failing")

    healthy_time = baseline[-1][0] - baseline[0][0]
    took = log[-1][0] - log[0][0]
    healthy = [when for when, path in log if path.startswith("/p/")]
    # While healthy pages were left, the host always had a request on its way: none of
    # the failures' backoffs paused it (a slow attempt holds it for up to TIMEOUT).
    gaps = [b - a for a, b in itertools.pairwise(when for when, _ in log if healthy[0] <= when <= healthy[-1])]
    record_property("healthy_time", round(healthy_time, 2))
    record_property("took", round(took, 2))
    record_property("longest_gap", round(max(gaps), 2))
    requests = Counter(path for _, path in log)
    assert all(requests[path] == RETRIES["max_retries"] + 1 for path in FAILING), requests
    assert max(gaps) <= TIMEOUT + 0.8, f"the host stalled for {max(gaps):.2f} s while healthy pages waited"
    assert took <= max(healthy_time, CHAIN) + SLACK, (took, healthy_time, CHAIN)
    records = {record.url: record for record in cluster.records("failing")}
    assert len(records) == PAGES + 1 + len(FAILING)
    assert {records[host_url].error for host_url in records if "/broken/" in host_url} == {"HTTP 500"}
    assert cluster.task_failures() == [], "a URL sent back to wait for its retry ended its chain cleanly"


def test_a_503_with_retry_after_pauses_the_host_for_every_worker(cluster):
    host = Host("127.0.0.1", delay=0.02)
    host.routes["/"] = page("root", ["/busy"] + [f"/p/{i}" for i in range(40)])
    host.routes["/busy"] = Response(503, "maintenance", headers={"Retry-After": "2"})
    for i in range(40):
        host.routes[f"/p/{i}"] = page(f"p{i}")
    host.start()
    cluster.start_worker("w1", concurrency=3)
    cluster.start_worker("w2", concurrency=3)
    cluster.start_beat()
    log = _crawl_paused(cluster, host)

    busy = min(when for when, path in log if path == "/busy")
    # Requests that had started before the 503 was read may still arrive just after it.
    during = [path for when, path in log if busy + 0.3 < when < busy + 1.9]
    assert during == [], "no worker sent the host a request while it asked for a pause"
    assert any(when >= busy + 1.9 for when, path in log if path.startswith("/p/")), "the host's pages went on after"


def _crawl_paused(cluster, host: Host) -> list[tuple[float, str]]:
    try:
        seed([host.url("/")], job="paused", allow_private=True, delay=0, host_concurrency=4, max_retries=1,
             retry_backoff=0.1)
        cluster.wait_finished("paused", timeout=60)
    finally:
        host.stop()
    return sorted(host.log)
