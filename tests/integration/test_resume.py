"""What a resumed job keeps of an earlier run's chains (tasks/resume.py), on the real
broker with a real worker killed: a message the dead worker had taken goes back on its
queue with its lease, and only a lease that no message carries is requeued."""

from __future__ import annotations

from celery import chain

from pipeline.crawl import jobs
from pipeline.frontier import Frontier
from pipeline.settings import Settings
from tasks.app import runtime
from tasks.resume import resume_in_flight
from tasks.stages import fetch, parse, store
from tests.integration.cluster import wait_until

JOB = "resume"
# Never requested: the only chain sent waits a minute for its turn, and its worker dies first.
URLS = ["http://127.0.0.1:9/a", "http://127.0.0.1:9/b"]


def test_a_dead_workers_message_goes_back_and_only_uncarried_leases_are_requeued(cluster, redis_client) -> None:
    frontier = Frontier(redis_client, JOB)
    policy = {"allow_private": True, "delay": 0.0, "host_concurrency": 2}
    _, (carried, lost) = jobs.seed(frontier, Settings.load(), URLS, policy)
    chain(fetch.s(JOB, carried.to_json()).set(countdown=60), parse.s(), store.s()).apply_async()
    worker = cluster.start_worker(pool="solo", concurrency=1)
    wait_until(lambda: redis_client.hlen("unacked") == 1, "the worker to take the chain's first message")
    cluster.kill(worker)

    resume_in_flight(runtime())

    assert redis_client.hlen("unacked") == 0 and redis_client.llen("fetch") == 1, "the message is not back"
    assert frontier.extend(carried), "the lease of the chain still in the broker was taken from it"
    assert not frontier.extend(lost), "the lease no message carries is still out"
    stats = frontier.stats()
    assert (stats.leased, stats.queued, stats.requeued) == (1, 1, 1)
    (again,) = frontier.lease()
    assert again.url == lost.url and again.token != lost.token
