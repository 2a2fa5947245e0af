"""The choices that keep a chart readable from ten pages to a million: time bins of a
length that fits the crawl, labelled in the unit that fits it, count axes on whole
numbers, and a floor under small bars so that a bar of 1 beside 303 is still seen."""

from __future__ import annotations

import math
from collections.abc import Iterator
from dataclasses import dataclass
from enum import StrEnum

# Bars of the pages-over-time chart at most, and labels under it at most.
TIMELINE_BARS = 60
TIME_LABELS = 10
# Intervals of a count axis at most (ticks at 0, 1, 2 or 5 x 10^k … just above the tallest bar).
COUNT_INTERVALS = 8
# The shortest nonzero bar, as a share of the count axis: about 4 px of a 300 px chart.
MIN_BAR_SHARE = 0.015

_MS = {"s": 1_000, "min": 60_000, "h": 3_600_000, "d": 86_400_000}
# Bin lengths and label intervals, in ms: a crawl's length picks the first that fits.
_NICE_MS = (
    100, 200, 500, 1_000, 2_000, 5_000, 10_000, 15_000, 30_000,
    60_000, 120_000, 300_000, 600_000, 900_000, 1_800_000,
    3_600_000, 7_200_000, 10_800_000, 21_600_000, 43_200_000,
    *(days * 86_400_000 for days in (1, 2, 5, 10, 20, 50, 100, 200, 500, 1000)),
)


class TimeUnit(StrEnum):
    """What a time axis counts in: the largest unit of which the crawl lasted three or more."""

    SECOND = "s"
    MINUTE = "min"
    HOUR = "h"
    DAY = "d"

    @property
    def ms(self) -> int:
        return _MS[self.value]

    @classmethod
    def fitting(cls, span_ms: int) -> TimeUnit:
        return next((unit for unit in reversed(cls) if span_ms >= 3 * unit.ms), cls.SECOND)

    def text(self, ms: int) -> str:
        return f"{ms / self.ms:g} {self.value}"


@dataclass(frozen=True)
class TimeBins:
    """The time axis of a crawl that lasted `span_ms`: bars of `step_ms` each from the first
    fetch, a label under every `label_ms`, in `unit`."""

    span_ms: int
    step_ms: int
    label_ms: int
    unit: TimeUnit

    @property
    def count(self) -> int:
        return self.span_ms // self.step_ms + 1

    def index(self, offset_ms: int) -> int:
        """The bar of a fetch `offset_ms` after the first."""
        return offset_ms // self.step_ms

    def labels(self) -> list[str]:
        """Each bar's start, in the axis unit."""
        return [self.unit.text(i * self.step_ms) for i in range(self.count)]

    def major(self) -> list[str]:
        """The labels shown: those on a multiple of `label_ms`."""
        return [self.unit.text(ms) for ms in range(0, self.count * self.step_ms, self.label_ms)]

    @property
    def step(self) -> str:
        """The bin length, in the unit that reads best for it alone ("0.1 s", "2 min")."""
        return TimeUnit.fitting(self.step_ms * 3).text(self.step_ms)


def time_bins(span_ms: int) -> TimeBins:
    """Bins for a crawl of `span_ms`: the shortest nice length that keeps the bars at most
    TIMELINE_BARS (so a crawl of a few seconds gets bars of 0.1 s, one of hours bars of
    minutes), labels every nice multiple of it that keeps them at most TIME_LABELS."""
    step = _nice(math.ceil(span_ms / (TIMELINE_BARS - 1)), 1)
    bars = span_ms // step + 1
    label = _nice(step * math.ceil(bars / TIME_LABELS), step)
    return TimeBins(span_ms, step, label, TimeUnit.fitting(span_ms))


def count_ticks(top: int, intervals: int = COUNT_INTERVALS) -> list[int]:
    """Whole-number ticks from 0 to the first at or above `top`, 1, 2 or 5 x 10^k apart,
    at most `intervals` intervals (fewer where long labels must fit side by side)."""
    step = next(step for step in _one_two_five() if math.ceil(top / step) <= intervals)
    return list(range(0, max(1, math.ceil(top / step)) * step + 1, step))


def shown_heights(values: list[int], axis_top: int) -> list[float]:
    """Each bar's drawn height: its value, raised to MIN_BAR_SHARE of the axis when it is
    nonzero and would be thinner than that; zero stays zero."""
    floor = axis_top * MIN_BAR_SHARE
    return [float(max(value, floor)) if value else 0.0 for value in values]


def _one_two_five() -> Iterator[int]:
    power = 1
    while True:
        yield from (power, 2 * power, 5 * power)
        power *= 10


def _nice(minimum: int, multiple_of: int) -> int:
    """The first nice length of at least `minimum` ms that is a multiple of `multiple_of`;
    past the list, `minimum` rounded up to a multiple."""
    fits = (ms for ms in _NICE_MS if ms >= minimum and ms % multiple_of == 0)
    return next(fits, math.ceil(minimum / multiple_of) * multiple_of)
