"""What `crawler status` says of the hosts a job crawls: how many it discovered, how
many max_hosts kept out, and the setting to raise."""

from __future__ import annotations

from pipeline.frontier import JobStats
from tasks.cli.progress import discovered_line, limit_lines, stopped_short


def _stats(**changes) -> JobStats:
    values = dict(job="j", state="finished", seen=10, queued=0, leased=0, dispatched=10, stored=10, errors=0,
                  requeued=0, started_at=1.0, finished_at=2.0)
    return JobStats(**{**values, **changes})


def test_hosts_discovered_are_shown_and_those_max_hosts_kept_out_when_any():
    assert discovered_line(_stats(hosts=12)) == "  hosts discovered: 12"
    assert discovered_line(_stats(hosts=3, hosts_refused=4)) == "  hosts discovered: 3 (4 more kept out by max_hosts)"


def test_urls_max_hosts_kept_out_are_a_limit_like_the_others():
    stats = _stats(hosts=3, hosts_refused=2, dropped={"max_hosts": 5})

    assert limit_lines(stats) == ["  limit max_hosts: dropped 5 URLs"]
    assert stopped_short(stats) == (
        "job j stopped short: max_hosts kept 5 URLs out (raise CRAWLER_MAX_HOSTS to crawl them)"
    )
