"""The report's axes from ten pages to a million: time bins that give a crawl of seconds
several bars and one of days at most TIMELINE_BARS, labels in the unit that fits, count
axes on whole numbers, and small bars raised to stay visible."""

from __future__ import annotations

import pytest

from pipeline.report.scales import (
    COUNT_INTERVALS,
    MIN_BAR_SHARE,
    TIME_LABELS,
    TIMELINE_BARS,
    TimeUnit,
    count_ticks,
    shown_heights,
    time_bins,
)

HOUR = 3_600_000


def test_a_crawl_of_a_few_seconds_gets_several_bars_labelled_in_seconds():
    bins = time_bins(2_700)

    assert (bins.step_ms, bins.count, bins.step) == (100, 28, "0.1 s")
    assert bins.labels()[:3] == ["0 s", "0.1 s", "0.2 s"]
    assert bins.major() == ["0 s", "0.5 s", "1 s", "1.5 s", "2 s", "2.5 s"]


@pytest.mark.parametrize(("span_ms", "step", "major"), [
    (40_000, "1 s", ["0 s", "5 s", "10 s", "15 s", "20 s", "25 s", "30 s", "35 s", "40 s"]),
    (10 * 60_000, "15 s", ["0 min", "2 min", "4 min", "6 min", "8 min", "10 min"]),
    (HOUR, "2 min", ["0 min", "10 min", "20 min", "30 min", "40 min", "50 min", "60 min"]),
    (3 * HOUR, "5 min", ["0 h", "0.5 h", "1 h", "1.5 h", "2 h", "2.5 h", "3 h"]),
    (5 * 24 * HOUR, "3 h", ["0 d", "1 d", "2 d", "3 d", "4 d", "5 d"]),
])
def test_the_time_axis_counts_in_the_unit_that_fits_the_crawls_length(span_ms, step, major):
    bins = time_bins(span_ms)

    assert (bins.step, bins.major()) == (step, major)


@pytest.mark.parametrize("span_ms", [0, 1, 99, 100, 2_700, 5_900, 5_901, 59_000, 59_001, 10 * HOUR, 1000 * 24 * HOUR,
                                     5000 * 24 * HOUR])
def test_the_bars_and_labels_stay_few_and_every_label_starts_a_bar(span_ms):
    bins = time_bins(span_ms)

    assert 1 <= bins.count <= TIMELINE_BARS and bins.index(span_ms) == bins.count - 1
    assert 1 <= len(bins.major()) <= TIME_LABELS and set(bins.major()) <= set(bins.labels())
    assert bins.label_ms % bins.step_ms == 0


def test_a_bin_length_reads_in_its_own_unit():
    assert [TimeUnit.fitting(ms * 3).text(ms) for ms in (100, 30_000, 60_000, 900_000, HOUR, 24 * HOUR)] == [
        "0.1 s", "30 s", "1 min", "15 min", "1 h", "1 d"]


@pytest.mark.parametrize(("top", "ticks"), [
    (0, [0, 1]),
    (1, [0, 1]),
    (2, [0, 1, 2]),
    (9, [0, 2, 4, 6, 8, 10]),
    (303, [0, 50, 100, 150, 200, 250, 300, 350]),
    (10_001, [0, 2_000, 4_000, 6_000, 8_000, 10_000, 12_000]),
])
def test_a_count_axis_has_whole_number_ticks_up_to_the_tallest_bar(top, ticks):
    assert count_ticks(top) == ticks


@pytest.mark.parametrize("top", [1, 3, 7, 8, 11, 99, 101, 303, 999, 2_550, 123_457, 1_000_000])
def test_count_ticks_are_one_two_or_five_apart_and_few(top):
    ticks = count_ticks(top)
    step = ticks[1]

    assert ticks[-1] >= top > ticks[-2] and len(ticks) - 1 <= COUNT_INTERVALS
    assert str(step).rstrip("0") in ("1", "2", "5") and ticks == list(range(0, ticks[-1] + 1, step))


def test_a_bar_of_one_beside_303_is_raised_to_stay_visible_and_a_zero_stays_zero():
    axis_top = count_ticks(303)[-1]

    assert shown_heights([1, 303, 0, 200], axis_top) == [axis_top * MIN_BAR_SHARE, 303, 0, 200]
    assert axis_top * MIN_BAR_SHARE > 1
