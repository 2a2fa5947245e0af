"""What `crawler status`, the live view and the crawl summary say: the limits that kept
URLs out, the busiest hosts, the progress toward max_pages."""

from __future__ import annotations

from rich.console import Console

from pipeline.frontier import HostView, JobStats
from pipeline.settings import Policy
from pipeline.store.base import DueCounts
from tasks.cli.pace import THIS_RUN, Pace, job_pace
from tasks.cli.progress import (
    blocked_line,
    bloom_warning,
    hosts_line,
    limit_lines,
    line,
    revisit_line,
    stopped_short,
    table,
    view,
)

RUN = Pace(THIS_RUN, 10, 2.0)


def _stats(**changes) -> JobStats:
    values = dict(job="j", state="finished", seen=10, queued=0, leased=0, dispatched=10, stored=10, errors=0,
                  requeued=0, started_at=1.0, finished_at=2.0)
    return JobStats(**{**values, **changes})


def test_a_job_no_limit_touched_says_nothing_of_limits():
    stats = _stats(dropped={"max_pages_per_host": 0, "max_depth": 0})

    assert limit_lines(stats) == [] and not stats.stopped_short
    assert "dropped" not in line(stats, RUN)


def test_a_per_host_limit_lists_the_hosts_that_lost_most_and_how_many_more():
    stats = _stats(
        dropped={"max_pages_per_host": 1_250, "max_depth": 1},
        dropped_hosts={"max_pages_per_host": {"a.example": 1_000, "b.example": 200}},
        hosts_at_limit={"max_pages_per_host": 5},
    )

    assert limit_lines(stats) == [
        "  limit max_pages_per_host: a.example dropped 1000 URLs, b.example dropped 200 URLs, "
        "and 3 more hosts (1250 URLs in all)",
        "  limit max_depth: dropped 1 URL",
    ]
    assert "dropped 1251, " in line(stats, RUN)


def test_the_summary_names_each_limit_and_the_setting_to_raise():
    stats = _stats(queued=7, dropped={"max_depth": 3, "max_pages": 7})

    assert stopped_short(stats) == (
        "job j stopped short: max_depth kept 3 URLs out, max_pages kept 7 URLs out "
        "(raise CRAWLER_MAX_DEPTH, CRAWLER_MAX_PAGES to crawl them)"
    )
    assert limit_lines(stats)[-1] == "  limit max_pages: dropped 7 URLs (left queued)"


def test_a_bloom_filter_past_its_capacity_is_warned_of_and_one_within_it_is_not():
    bloom = Policy(dedup="bloom", bloom_capacity=1000)

    assert bloom_warning(_stats(seen=1000), bloom) is None
    assert bloom_warning(_stats(seen=5000), Policy()) is None, "the exact sets have no capacity"
    warning = bloom_warning(_stats(seen=1001), bloom)
    assert warning is not None and "holds 1001 URLs, past its capacity of 1000" in warning
    assert "CRAWLER_BLOOM_CAPACITY" in warning
    assert bloom_warning(_stats(seen=900, blocked=101), bloom) is not None, "disallowed links fill the filter too"


def test_status_says_what_a_revisiting_job_has_done_and_has_due():
    stats = _stats(revisits=7, revisited=5, revisits_waiting=2)

    assert revisit_line(stats, DueCounts(due=3, later=40, next_at=112.4), now=100.0) == (
        "  revisits: 5 done, 2 waiting; due now 3, later 40, the next in 12 s"
    )
    assert "revisited 5" in line(stats, RUN)


HOSTS = [HostView("a.example", 4, 310, 0.0, ""), HostView("b.example:8080", 0, 12, 29.5, "HTTP 429 Retry-After")]


def _rendered(renderable) -> str:
    console = Console(record=True, width=120)
    console.print(renderable)
    return console.export_text()


def test_the_live_view_lists_the_busiest_hosts_below_the_totals_and_a_bar_toward_max_pages():
    text = _rendered(view(_stats(state="running", dispatched=120, queued=380), RUN, HOSTS, 500))

    assert text.index("stored") < text.index("120 of 500 pages (24%)") < text.index("busiest hosts")
    rows = [[cell.strip() for cell in row.split("│")[1:-1]] for row in text.splitlines() if "example" in row]
    assert rows == [["a.example", "4", "310", ""], ["b.example:8080", "0", "12", "29.5 s: HTTP 429 Retry-After"]]


def test_without_a_bound_or_busy_hosts_the_live_view_is_the_totals_alone():
    text = _rendered(view(_stats(state="running"), RUN, [], 0))

    assert "pages (" not in text and "busiest" not in text


def test_the_plain_lines_say_the_same_for_logs():
    assert line(_stats(state="running", dispatched=120), RUN, 500).endswith("; 120 of 500 pages (24%)")
    assert hosts_line(HOSTS) == (
        "  busiest: a.example 4 in flight, 310 queued; "
        "b.example:8080 0 in flight, 12 queued, paused 29.5 s: HTTP 429 Retry-After"
    )


def test_status_gives_the_jobs_average_and_says_it_is_the_jobs():
    done = _stats(stored=50, revisited=10, started_at=100.0, finished_at=110.0)
    running = _stats(state="running", stored=50, started_at=100.0, finished_at=None)

    assert job_pace(done, now=500.0).per_second == 6.0
    assert line(done, job_pace(done, now=500.0)).endswith("; 6.0 pages/s over the job's 10 s")
    assert line(running, job_pace(running, now=125.0)).endswith("; 2.0 pages/s over the job's 25 s")


def test_the_live_view_gives_the_pace_it_is_given_below_the_totals_with_the_recent_rate():
    text = _rendered(view(_stats(state="running"), Pace(THIS_RUN, 35, 3.5, recent=12.5), [], 0))

    assert text.index("stored") < text.index("10.0 pages/s over this run's 3.5 s (12.5 in the last 10 s)")


def test_the_totals_show_pages_fetched_ok_and_failed_apart_from_all_stored():
    stats = _stats(state="running", stored=10, errors=2)

    assert line(stats, RUN).startswith("job j running: stored 10 (8 fetched OK, 2 failed), ")
    header, values = [row for row in _rendered(table(stats)).splitlines() if "┃" in row or "│" in row][:2]
    cells = dict(zip([c.strip() for c in header.split("┃")[1:-1]], [c.strip() for c in values.split("│")[1:-1]],
                     strict=True))
    assert (cells["stored"], cells["fetched OK"], cells["failed"]) == ("10", "8", "2")


def test_status_names_the_links_robots_txt_disallowed_and_their_hosts():
    assert blocked_line(_stats()) is None
    stats = _stats(blocked=21, blocked_hosts={"a.test": 20, "b.test": 1})

    assert blocked_line(stats) == (
        "  robots.txt: 21 URLs disallowed, recorded without a request (a.test 20 URLs, b.test 1 URL)")
