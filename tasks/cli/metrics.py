"""Crawl-level numbers for Prometheus, the ones Flower cannot show: each job's frontier,
leases, stored pages, errors, paused hosts and what its limits kept out. They are read from Redis at every scrape,
so the endpoint keeps no state and any number of them agree."""

from __future__ import annotations

from collections.abc import Iterator

import redis
from prometheus_client.core import CounterMetricFamily, GaugeMetricFamily, Metric
from prometheus_client.registry import Collector

from pipeline.errors import JobNotFound
from pipeline.frontier import HOST_LIMITS, Frontier, JobState, JobStats, Limit, list_jobs

# (metric name, JobStats field, help) for the numbers that only grow, then those that do not.
_COUNTERS = (
    ("crawler_urls_seen", "seen", "URLs scheduled once (deduplicated)."),
    ("crawler_urls_dispatched", "dispatched", "URLs handed to the workers."),
    ("crawler_pages_stored", "stored", "Records stored, failures included."),
    ("crawler_pages_failed", "errors", "Records stored with an error."),
    ("crawler_leases_requeued", "requeued", "Leases that expired and went back to the frontier."),
    ("crawler_pages_revisited", "revisited", "Stored URLs fetched again and stored again (recrawls, continuous)."),
    ("crawler_urls_blocked", "blocked", "Links robots.txt disallowed, recorded where found without a request."),
)
_GAUGES = (
    ("crawler_urls_queued", "queued", "URLs waiting in the frontier."),
    ("crawler_urls_leased", "leased", "URLs handed out and not finished."),
    ("crawler_hosts_paused", "backing_off", "Hosts paused now (Retry-After or a failure's backoff)."),
    ("crawler_revisits_waiting", "revisits_waiting", "Revisits fed in from the store and waiting in the frontier."),
)


class FrontierCollector(Collector):
    def __init__(self, client: redis.Redis) -> None:
        self.client = client

    def collect(self) -> Iterator[Metric]:
        stats = list(self._stats())
        for name, field, text in _COUNTERS:
            family = CounterMetricFamily(name, text, labels=["job"])
            for item in stats:
                family.add_metric([item.job], getattr(item, field))
            yield family
        for name, field, text in _GAUGES:
            gauge = GaugeMetricFamily(name, text, labels=["job"])
            for item in stats:
                gauge.add_metric([item.job], getattr(item, field))
            yield gauge
        state = GaugeMetricFamily("crawler_job_state", "1 for the state each job is in.", labels=["job", "state"])
        for item in stats:
            for name in JobState:
                state.add_metric([item.job, name], 1 if item.state == name else 0)
        yield state
        yield from _limits(stats)

    def _stats(self) -> Iterator[JobStats]:
        for job in list_jobs(self.client):
            try:
                yield Frontier(self.client, job).stats()
            except JobNotFound:
                continue


def _limits(stats: list[JobStats]) -> Iterator[Metric]:
    """What each job's limits kept out, so an alert can tell a crawl that stopped short."""
    dropped = CounterMetricFamily(
        "crawler_urls_dropped", "Distinct URLs a limit kept out (max_pages: left queued when it stopped the job).",
        labels=["job", "limit"],
    )
    at_limit = GaugeMetricFamily("crawler_hosts_at_limit", "Hosts that reached a per-host limit.",
                                 labels=["job", "limit"])
    for item in stats:
        for limit in Limit:
            dropped.add_metric([item.job, limit], item.dropped.get(limit, 0))
        for limit in HOST_LIMITS:
            at_limit.add_metric([item.job, limit], item.hosts_at_limit.get(limit, 0))
    yield dropped
    yield at_limit
