"""The live view in the terminals users have: 80 columns (or fewer) gets the totals that
matter most, whole; the progress bar shows only a max_pages the user asked for."""

from __future__ import annotations

import re

import pytest
from rich.console import Console

from pipeline.frontier import HostView, JobStats
from pipeline.settings import Policy
from tasks.cli.pace import THIS_RUN, Pace
from tasks.cli.progress import DEFAULT_MAX_PAGES, PRIORITY, user_bound, view

HOSTS = [HostView("a-rather-long-host-name.example.org:8443", 4, 310, 0.0, ""),
         HostView("b.example:8080", 0, 12, 29.5, "HTTP 429 Retry-After")]


def _stats(**changes) -> JobStats:
    values = dict(job="demo", state="running", seen=1_500, queued=1_180, leased=8, dispatched=306, stored=298,
                  errors=3, requeued=2, started_at=1.0, finished_at=None, backing_off=1,
                  dropped={"max_depth": 40})
    return JobStats(**{**values, **changes})


def _rendered(renderable, width: int) -> str:
    console = Console(record=True, width=width)
    console.print(renderable)
    return console.export_text()


def _headers(text: str) -> list[str]:
    header = next(row for row in text.splitlines() if "┃" in row)
    return [cell.strip() for cell in header.split("┃")[1:-1]]


REVISITING = dict(revisits=40, revisited=35, revisits_waiting=5)


@pytest.mark.parametrize("width", [60, 80, 120])
@pytest.mark.parametrize("changes", [{}, REVISITING], ids=["crawl", "revisits"])
def test_the_live_view_fits_the_width_with_whole_words(width: int, changes: dict) -> None:
    live = view(_stats(**changes), Pace(THIS_RUN, 298, 3.4, recent=91.2), HOSTS, 500)
    text = _rendered(live, width)
    every = _headers(_rendered(live, 1_000))

    assert "…" not in text, text
    assert max(len(row) for row in text.splitlines()) <= width, text
    shown = _headers(text)
    assert shown[:1] == ["stored"] and "queued" in shown and "failed" in shown, text
    # Fewer columns, the most wanted kept: what is shown is a prefix of the priorities.
    wanted = [header for header in PRIORITY if header in every]
    assert sorted(shown, key=PRIORITY.index) == wanted[: len(shown)], shown
    assert re.search(r"87\.6 pages/s over this run's 3\.4 s \(91\.2 in the last 10 s\)", " ".join(text.split()))
    assert "306 of 500 pages (61%)" in text


def test_a_wide_terminal_shows_every_total_and_a_narrow_one_the_first_ones() -> None:
    stats = _stats()
    assert _headers(_rendered(view(stats, Pace(THIS_RUN, 0, 0.0), [], 0), 120)) == [
        "stored", "fetched OK", "failed", "queued", "leased", "requeued", "dropped", "hosts paused",
    ]
    assert _headers(_rendered(view(stats, Pace(THIS_RUN, 0, 0.0), [], 0), 80)) == [
        "stored", "fetched OK", "failed", "queued", "leased", "dropped", "hosts paused",
    ]
    narrow = _headers(_rendered(view(stats, Pace(THIS_RUN, 0, 0.0), [], 0), 50))
    assert narrow == ["stored", "failed", "queued", "leased", "dropped"]


def test_the_bar_is_for_a_max_pages_the_user_set_not_the_default() -> None:
    assert user_bound(Policy(), given=False) == 0, "the built-in default is nobody's target"
    assert user_bound(Policy(max_pages=DEFAULT_MAX_PAGES), given=True) == DEFAULT_MAX_PAGES
    assert user_bound(Policy(max_pages=500), given=False) == 500, "set when the job was seeded"
    assert user_bound(Policy(max_pages=0), given=True) == 0, "0: no limit, nothing to fill"

    without = _rendered(view(_stats(), Pace(THIS_RUN, 0, 0.0), [], user_bound(Policy(), given=False)), 80)
    assert " pages (" not in without and f"of {DEFAULT_MAX_PAGES}" not in without
