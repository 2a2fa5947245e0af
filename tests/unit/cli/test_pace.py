"""The rates `crawler crawl` gives are this run's own: a resumed or recrawled job counts
what this run stored over this run's time, not the job's idle time between runs; and off
a terminal the progress lines come often enough to show a short crawl."""

from __future__ import annotations

from rich.console import Console

from pipeline.frontier import JobStats
from pipeline.settings import Settings
from tasks.cli.outcome import summary
from tasks.cli.pace import RunPace, job_pace
from tasks.cli.progress import Display


def _stats(**changes) -> JobStats:
    values = dict(job="j", state="running", seen=0, queued=0, leased=0, dispatched=0, stored=0, errors=0,
                  requeued=0, started_at=1_000.0, finished_at=None)
    return JobStats(**{**values, **changes})


def _run(before: int, looks: list[tuple[float, JobStats]]) -> RunPace:
    run = RunPace(before)
    for now, stats in looks:
        run.update(stats, now)
    return run


def test_a_resumed_job_counts_this_run_alone_from_its_first_page_to_its_end() -> None:
    # The first run stored 100 pages in 5 s; the job then sat for an hour.
    first = _stats(stored=100, finished_at=1_005.0, state="finished")
    looks = [
        (50.0, _stats(stored=100)),  # workers starting: nothing of this run yet
        (50.5, _stats(stored=100)),
        (50.6, _stats(stored=104)),  # this run's first pages: it began after the look at 50.5
        (52.0, _stats(stored=150)),
        (54.5, _stats(stored=200, state="finished", finished_at=4_604.0)),
        (55.0, _stats(stored=200, state="finished", finished_at=4_604.0)),  # a look after the end
    ]

    run = _run(pages_before := 100, looks)
    pace = run.pace(now=99.0)

    assert (pace.pages, pace.seconds) == (200 - pages_before, 4.0)
    assert pace.text() == "25.0 pages/s over this run's 4.0 s"
    job = job_pace(looks[-1][1], now=5_000.0)
    assert job.text() == "0.1 pages/s over the job's 1 h 0 min", "the job's own average spans the idle hour"
    assert job_pace(first, now=5_000.0).text() == "20.0 pages/s over the job's 5.0 s"


def test_a_recrawl_counts_the_pages_it_stored_again() -> None:
    looks = [(10.0, _stats(stored=80, revisits=80)), (11.0, _stats(stored=80, revisits=80, revisited=40)),
             (12.0, _stats(stored=82, revisits=80, revisited=80, state="finished", finished_at=2_000.0))]

    pace = _run(80, looks).pace(now=20.0)

    assert (pace.pages, pace.seconds) == (82, 2.0)


def test_a_run_that_stored_nothing_says_so() -> None:
    done = _stats(stored=10, state="finished", finished_at=1_010.0)

    assert _run(10, [(5.0, done)]).pace(now=9.0).text() == "no page stored in this run"


def test_a_running_run_is_timed_to_now_with_the_recent_rate_beside() -> None:
    run = _run(0, [(1.0, _stats()), (2.0, _stats(stored=30))])

    assert run.pace(now=4.0, recent=12.5).text() == "10.0 pages/s over this run's 3.0 s (12.5 in the last 10 s)"


def _summary(stats: JobStats, run: RunPace, **settings: str) -> str:
    console = Console(record=True, width=400)
    summary(stats, run.pace(now=100.0), Settings(**settings), console)
    return console.export_text()


def test_the_summary_gives_this_runs_pace_and_its_share_of_a_resumed_job() -> None:
    done = _stats(stored=200, errors=2, state="finished", finished_at=5_000.0)
    looks = [(1.0, _stats(stored=100)), (5.0, done)]

    fresh = _summary(done, _run(0, [(1.0, _stats()), (5.0, done)]))
    resumed = _summary(done, _run(100, looks))
    again = _summary(done, _run(200, [(1.0, done)]))

    assert "job j finished: 200 stored (198 fetched OK, 2 failed), 50.0 pages/s over this run's 4.0 s; " in fresh
    assert ("job j finished: 200 stored in all (198 fetched OK, 2 failed); this run fetched 100 pages, "
            "25.0 pages/s over this run's 4.0 s; ") in resumed
    assert "job j finished: 200 stored in all (198 fetched OK, 2 failed); this run fetched nothing; " in again


def test_the_summary_hides_the_stores_password() -> None:
    done = _stats(stored=1, state="finished", finished_at=1_001.0)

    text = _summary(done, _run(0, [(1.0, done)]), store_url="postgresql://crawler:s3cret@db/crawl")

    assert "s3cret" not in text and "postgresql://crawler:***@db/crawl" in text


class Clock:
    def __init__(self) -> None:
        self.now = 0.0

    def __call__(self) -> float:
        return self.now


def _plain_lines(looks: list[tuple[float, JobStats]]) -> list[tuple[float, str]]:
    """(time, line) of each progress line a Display off a terminal prints."""
    clock, console = Clock(), Console(record=True, width=400, force_terminal=False)
    printed: list[tuple[float, str]] = []
    with Display(console, RunPace(0), clock) as display:
        for now, stats in looks:
            clock.now = now
            display.show(stats)
            if text := console.export_text(clear=True).strip():
                printed.append((now, text))
    return printed


def test_off_a_terminal_a_short_crawl_shows_its_progress_each_second_and_its_end() -> None:
    looks = [(t / 10, _stats(stored=t)) for t in range(0, 30)] + [(3.05, _stats(stored=31, state="finished",
                                                                                  finished_at=1_003.0))]
    lines = _plain_lines(looks)

    assert [at for at, _ in lines] == [0.0, 1.0, 2.0, 3.05]
    assert "stored 10 " in lines[1][1] and "finished: stored 31 " in lines[-1][1]


def test_off_a_terminal_a_long_crawl_slows_to_a_line_each_ten_seconds_and_ends_with_one() -> None:
    looks = [(float(t), _stats(stored=t)) for t in range(0, 61)] + [
        (61.5, _stats(stored=61, state="finished", finished_at=1_062.0)),
        (62.0, _stats(stored=61, state="finished", finished_at=1_062.0)),
    ]

    times = [at for at, _ in _plain_lines(looks)]

    assert times == [float(t) for t in range(0, 10)] + [19.0, 29.0, 39.0, 49.0, 59.0, 61.5]


def test_the_recent_rate_of_a_run_starts_at_its_first_page_not_at_the_workers_start() -> None:
    clock, console = Clock(), Console(record=True, width=400, force_terminal=False)
    with Display(console, RunPace(0), clock) as display:
        display.show(_stats())  # the workers are starting
        for at in (2.0, 4.0, 5.5):
            clock.now = at
            display.sample(_stats())
        clock.now = 6.0
        display.show(_stats(stored=10))

    last = console.export_text().splitlines()[-1]
    assert last.endswith("; 20.0 pages/s over this run's 0.5 s (20.0 in the last 10 s)"), last


def test_the_run_shown_ends_at_the_look_that_found_the_job_over() -> None:
    clock, run = Clock(), RunPace(0)
    with Display(Console(record=True, force_terminal=False), run, clock) as display:
        display.show(_stats())
        clock.now = 1.0
        display.show(_stats(stored=5))
        clock.now = 2.0
        display.show(_stats(stored=8, state="finished", finished_at=1_002.0))

    assert run.pace(now=30.0).text() == "4.0 pages/s over this run's 2.0 s"


def test_links_robots_txt_disallowed_are_told_apart_and_not_counted_in_the_rate() -> None:
    # 100 pages fetched (2 of them failed) and 300 disallowed links recorded without a request.
    done = _stats(stored=400, errors=302, blocked=300, state="finished", finished_at=5_000.0)

    text = _summary(done, _run(0, [(1.0, _stats()), (5.0, done)]))

    assert "job j finished: 400 stored (98 fetched OK, 2 failed, 300 disallowed), 25.0 pages/s over this run's 4.0 s" \
        in text
