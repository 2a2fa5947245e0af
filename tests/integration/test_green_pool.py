"""A gevent worker takes its next message as soon as a pool slot frees. It has no event
loop of its own: Celery drains the broker connection, and kombu's poller, finding every
slot's message taken, slept out up to a second before it looked again (tasks/broker.py).
A one-greenlet worker then fetched about a page a second however fast the site, and a
broad crawl on 64 greenlets asked each host every 8.4 s instead of every 2.9 s."""

from __future__ import annotations

import itertools
import statistics

from tasks import seed
from tests.integration.site import Host, page

PAGES = 12


def test_a_one_greenlet_worker_fetches_the_next_page_as_soon_as_the_last_is_done(cluster, record_property):
    host = Host("127.0.0.2")
    host.routes["/"] = page("root", [f"/p/{i}" for i in range(1, PAGES + 1)])
    for i in range(1, PAGES + 1):
        host.routes[f"/p/{i}"] = page(f"p{i}")
    host.start()
    try:
        cluster.start_worker("green", concurrency=1, pool="gevent")
        cluster.start_beat()
        seed([host.url("/")], job="green", allow_private=True, delay=0)
        cluster.wait_finished("green", timeout=60)
    finally:
        host.stop()

    starts = sorted(when for when, _ in host.log)
    assert len(starts) == PAGES + 2, "robots.txt, the root and its pages"
    # Each page's chain hands its host's next URL out as it completes: the message waits
    # only for the worker's one slot.
    gap = statistics.median(b - a for a, b in itertools.pairwise(starts[1:]))
    record_property("median_gap", round(gap, 3))
    assert gap < 0.3, f"a median {gap:.2f} s between pages: the worker slept before taking its next message"
