"""What a resumed job keeps of an earlier run's chains (tasks/resume.py), on the real
broker with a real worker killed: a message still on its queue keeps its lease; the
message the dead worker had taken died with it, and its lease is requeued at once, as is
a lease that no message carried."""

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
# Never requested: the chains sent wait a minute for their turn, and their worker dies first.
URLS = ["http://127.0.0.1:9/taken", "http://127.0.0.1:9/queued", "http://127.0.0.1:9/lost"]


def _send(lease) -> None:
    chain(fetch.s(JOB, lease.to_json()).set(countdown=60), parse.s(), store.s()).apply_async()


def test_a_dead_workers_message_dies_with_it_and_every_uncarried_lease_is_requeued(cluster, redis_client) -> None:
    frontier = Frontier(redis_client, JOB)
    policy = {"allow_private": True, "delay": 0.0, "host_concurrency": 3}
    _, (taken, queued, lost) = jobs.seed(frontier, Settings.load(), URLS, policy)
    _send(taken)
    worker = cluster.start_worker(pool="solo", concurrency=1)
    wait_until(lambda: redis_client.llen("fetch") == 0, "the worker to take the chain's first message")
    cluster.kill(worker)
    _send(queued)

    resume_in_flight(runtime())

    assert redis_client.llen("fetch") == 1 and not redis_client.exists("unacked"), "only the queued message is left"
    assert frontier.extend(queued), "the lease of the chain still in the broker was taken from it"
    assert not frontier.extend(taken) and not frontier.extend(lost), "a lease no message carries is still out"
    stats = frontier.stats()
    assert (stats.leased, stats.queued, stats.requeued) == (1, 2, 2)
    again = frontier.lease()
    assert sorted(lease.url for lease in again) == sorted([taken.url, lost.url])
    assert {lease.token for lease in again}.isdisjoint({taken.token, lost.token})
