"""Job control across the cluster: pause, resume and cancel, and several jobs at once
sharing the same workers."""

from __future__ import annotations

import time

from pipeline.frontier import JobState
from tasks import seed
from tests.integration.cluster import wait_until
from tests.integration.site import Host, page

PAGES = 40


def _site(address: str) -> Host:
    host = Host(address, delay=0.03)
    host.routes["/"] = page("root", [f"/p/{i}" for i in range(1, PAGES + 1)])
    for i in range(1, PAGES + 1):
        host.routes[f"/p/{i}"] = page(f"p{i}")
    return host.start()



def test_pause_stops_requests_resume_finishes_and_cancel_ends_the_job(cluster):
    host, other = _site("127.0.0.1"), _site("127.0.0.2")
    try:
        cluster.start_worker()
        cluster.start_beat()
        seed([host.url("/")], job="paused", allow_private=True, delay=0.05)
        frontier = cluster.frontier("paused")
        wait_until(lambda: frontier.stats().stored >= 5, "some pages stored")
        frontier.set_state(JobState.PAUSED)
        wait_until(lambda: frontier.stats().leased == 0, "in-flight pages to drain")
        requests_at_pause = len(host.log)
        time.sleep(1.5)
        assert len(host.log) == requests_at_pause, "no request while paused"
        assert frontier.stats().queued > 0

        frontier.set_state(JobState.RUNNING)
        stats = cluster.wait_finished("paused")
        assert stats.stored == PAGES + 1

        seed([other.url("/")], job="cancelled", allow_private=True, delay=0.05)
        doomed = cluster.frontier("cancelled")
        wait_until(lambda: doomed.stats().stored >= 3, "the second job to start")
        doomed.set_state(JobState.CANCELLED)
        wait_until(lambda: doomed.stats().leased == 0, "the cancelled job to drain")
        served = len(other.log)
        time.sleep(1.5)
        assert len(other.log) == served and doomed.stats().state == JobState.CANCELLED
        assert doomed.stats().stored < PAGES + 1
    finally:
        host.stop()
        other.stop()


def test_two_jobs_share_the_workers_and_both_finish(cluster):
    first, second = _site("127.0.0.1"), _site("127.0.0.2")
    try:
        cluster.start_worker("w1")
        cluster.start_worker("w2")
        cluster.start_beat()
        seed([first.url("/")], job="one", allow_private=True, delay=0, host_concurrency=2)
        seed([second.url("/")], job="two", allow_private=True, delay=0, host_concurrency=2)
        one, two = cluster.wait_finished("one"), cluster.wait_finished("two")
    finally:
        first.stop()
        second.stop()

    assert one.stored == two.stored == PAGES + 1
    starts = sorted([(t, "one") for t, _ in first.log] + [(t, "two") for t, _ in second.log])
    halfway = [job for _, job in starts[: len(starts) // 2]]
    assert halfway.count("one") > len(halfway) // 4 and halfway.count("two") > len(halfway) // 4, (
        "both jobs progress side by side, neither waits for the other to finish"
    )
