"""Fault tolerance across real network hosts: three worker hosts, each its own network
namespace with its own address, crawling a site and writing one store through a Redis
on the bridge. Workers are killed and a host is cut off mid-crawl; every page must be
stored exactly once, none lost."""

from __future__ import annotations

import os
import random
import signal
import socket
import subprocess
import sys
import time

import pytest

from pipeline.frontier import JobState
from tests.integration.cluster import wait_until
from tests.integration.hosts import LEASE_TIMEOUT, tree_cluster, tree_pages
from tests.integration.netns import available
from tests.integration.site import Host

PAGES = 2000

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


@pytest.fixture
def multihost(tmp_path):
    with tree_cluster(tmp_path, 3, PAGES, delay=0.005) as cluster:
        yield cluster


def _expected(site: Host) -> list[str]:
    return sorted(tree_pages(site, PAGES))


def test_workers_killed_again_and_again_lose_nothing(multihost, record_property):
    hosts, site = multihost
    started = time.monotonic()
    frontier = hosts.start_crawl(site, "kills")
    kills = 0
    while frontier.stats().state != JobState.FINISHED and time.monotonic() - started < 180:
        time.sleep(2)
        victim = random.choice(hosts.network.names)
        hosts.kill_worker(victim)
        hosts.start_worker(victim)
        kills += 1
    stats = frontier.stats()

    urls = hosts.urls("kills")
    record_property("kills", kills)
    record_property("seconds", round(time.monotonic() - started, 1))
    record_property("requeued", stats.requeued)
    assert stats.state == JobState.FINISHED, stats
    assert sorted(urls) == _expected(site), "none lost"
    assert stats.stored == len(urls), "none counted twice"
    assert kills >= 2


def test_a_host_cut_off_past_its_leases_is_replaced_and_recovers(multihost, record_property):
    hosts, site = multihost
    frontier = hosts.start_crawl(site, "cut")
    wait_until(lambda: frontier.stats().stored >= 50, "the crawl to get going")
    cut_host = hosts.network.names[1]
    hosts.network.cut(cut_host)
    cut_at = time.monotonic()
    time.sleep(LEASE_TIMEOUT + 5)
    hosts.network.restore(cut_host)
    wait_until(lambda: frontier.stats().state == JobState.FINISHED, "the crawl to finish", timeout=180)
    stats = frontier.stats()
    urls = hosts.urls("cut")

    record_property("requeued", stats.requeued)
    record_property("seconds_from_cut_to_finish", round(time.monotonic() - cut_at, 1))
    assert sorted(urls) == _expected(site)
    assert stats.stored == len(urls)
    assert stats.requeued > 0, "the cut-off host's leases were handed to the others"
    ping = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tasks", "inspect", "ping", "-d", f"{cut_host}@{socket.gethostname()}",
         "-t", "10"],
        env=hosts.env, capture_output=True, text=True, timeout=60,
    )
    assert "pong" in ping.stdout, ("the cut-off worker answers again", ping.stdout, ping.stderr)


def test_a_redis_restart_mid_crawl_is_survived(multihost, record_property):
    hosts, site = multihost
    frontier = hosts.start_crawl(site, "restart")
    wait_until(lambda: frontier.stats().stored >= 100, "the crawl to get going")
    hosts.restart_redis()
    restarted_at = time.monotonic()
    wait_until(lambda: frontier.stats().state == JobState.FINISHED, "the crawl to finish", timeout=180)
    stats = frontier.stats()
    urls = hosts.urls("restart")

    record_property("seconds_from_restart_to_finish", round(time.monotonic() - restarted_at, 1))
    record_property("requeued", stats.requeued)
    assert sorted(urls) == _expected(site)
    assert stats.stored == len(urls)


def test_beat_stopped_restarted_and_doubled_dispatches_each_url_once(multihost):
    hosts, site = multihost
    for host in hosts.network.names:
        hosts.start_worker(host)
    beat = hosts.start_beat("beat-1")
    hosts.seed(site.url("/"), "beats")
    frontier = hosts.frontier("beats")
    wait_until(lambda: frontier.stats().stored >= 50, "the crawl to get going")
    os.killpg(beat.pid, signal.SIGKILL)
    beat.wait()
    time.sleep(2)
    hosts.start_beat("beat-2")
    hosts.start_beat("beat-3")
    wait_until(lambda: frontier.stats().state == JobState.FINISHED, "the crawl to finish", timeout=180)

    assert sorted(hosts.urls("beats")) == _expected(site)
    repeated = {path: n for path, n in site.requests().items() if n > 1 and path != "/robots.txt"}
    assert repeated == {}, "each URL requested once"
