"""A crawl report as one self-contained HTML file: the headline numbers, then a chart per
aspect of the crawl, each a static SVG drawn by pygal (no script, no request to any
other host: it opens offline, from a mail attachment, years later)."""

from __future__ import annotations

import html
import math
from collections import Counter
from collections.abc import Callable, Sequence
from datetime import UTC, datetime
from typing import Any

import pygal
from pygal.style import Style

from pipeline import __version__
from pipeline.report.scales import COUNT_INTERVALS, count_ticks, shown_heights
from pipeline.report.summary import TOP, Report

# A light, solid grid: the bars are what the eye should meet first.
_STYLE = Style(background="white", plot_background="white", font_family="system-ui, sans-serif",
               colors=("#3366cc",), guide_stroke_color="#ececec", major_guide_stroke_color="#d6d6d6",
               guide_stroke_dasharray="none", major_guide_stroke_dasharray="none",
               label_font_size=14, major_label_font_size=14, value_font_size=13)
_WIDTH = 600
_HEIGHT = 300
# About: px of a label's character at label_font_size, and of a plot beside its count axis.
_LABEL_CHAR_WIDTH = 8
_PLOT_WIDTH = _WIDTH - 80
# A chart of this many bars at most prints each bar's count on it.
_PRINTED_BARS = 12
# A horizontal chart is as tall as its bars need: one host is not a 300-px slab.
_ROW_HEIGHT = 30
_ROWS_MARGIN = 70
# px between a bar's end and its printed count, and right of the plot, where a count may go.
_COUNT_GAP = 7
_RIGHT_MARGIN = 20
_PAGE = """<!DOCTYPE html>
<html lang="en">
<head>
<meta charset="utf-8">
<title>Crawl report: {job}</title>
<style>
body {{ font-family: system-ui, sans-serif; margin: 0 auto; padding: 1.5em 2.5em; max-width: 1500px;
        color: #222; }}
.numbers {{ display: flex; flex-wrap: wrap; gap: 1em; margin: 1em 0 2em; }}
.number {{ border: 1px solid #ddd; border-radius: 6px; padding: .6em 1em; min-width: 8em; }}
.number b {{ display: block; font-size: 1.6em; }}
.charts {{ display: grid; grid-template-columns: repeat(auto-fill, minmax(540px, 1fr)); gap: 2em 3em; }}
section svg {{ display: block; max-width: 900px; }}
section .horizontal text.value {{ text-anchor: start; }}
section h2 {{ font-size: 1.1em; margin: 0 0 .3em; }}
footer {{ margin-top: 2em; color: #777; font-size: .9em; }}
</style>
</head>
<body>
<h1>Crawl report: job {job}</h1>
<div class="numbers" id="headline">{numbers}</div>
<div class="charts">
{sections}
</div>
<footer>Made {made} by celery-crawler {version} from the job's stored records.</footer>
</body>
</html>
"""


def render_html(report: Report) -> str:
    """The report as one HTML page, charts and all."""
    numbers = "".join(
        f'<div class="number" id="{key}"><b>{html.escape(value)}</b>{html.escape(label)}</div>'
        for key, label, value in _headline(report)
    )
    sections = "\n".join(
        f'<section id="{key}"><h2>{html.escape(title)}</h2>{chart}</section>' for key, title, chart in _charts(report)
    )
    return _PAGE.format(job=html.escape(report.job), numbers=numbers, sections=sections, version=__version__,
                        made=datetime.now(UTC).strftime("%Y-%m-%d %H:%M UTC"))


def _headline(report: Report) -> list[tuple[str, str, str]]:
    return [
        ("pages", "pages stored", f"{report.pages:,}"),
        ("ok", "fetched OK", f"{report.ok:,}"),
        ("failed", "failed", f"{report.failed:,}"),
        ("disallowed", "disallowed by robots.txt, recorded without a request", f"{report.disallowed:,}"),
        ("bytes", "bytes of content", _bytes(report.bytes)),
        ("duration", "from the first fetch to the last", _duration(report.seconds)),
        _rate(report),
        ("p50", "fetch time, median", f"{report.percentile(0.5):.3f} s"),
        ("p90", "fetch time, p90", f"{report.percentile(0.9):.3f} s"),
        ("p99", "fetch time, p99", f"{report.percentile(0.99):.3f} s"),
    ]


def _rate(report: Report) -> tuple[str, str, str]:
    """Pages/s, saying what it divides by: the records know when each page was fetched,
    not when the job started or ended, so it is the first fetch to the last. Disallowed
    links, recorded without a request, are not counted."""
    if report.seconds <= 0:
        return "rate", "pages/s: every page fetched at one instant, no time to divide by", "n/a"
    return ("rate", f"pages/s from the first fetch to the last ({_duration(report.seconds)})",
            f"{report.pages_per_s:.1f}")


def _charts(report: Report) -> list[tuple[str, str, str]]:
    """(id, title, SVG) of each chart that has something to show."""
    bins, bars = report.timeline()
    charts = [
        ("timeline", f"Pages stored in each {bins.step} from the first fetch",
         _bars(bins.labels(), bars, major=bins.major())),
        ("statuses", "HTTP status classes", _bars(*_sorted_labels(report.statuses))),
        ("content-types", "Content types", _horizontal(report.content_types)),
        ("depths", "Pages per depth", _bars([str(d) for d in sorted(report.depths)],
                                            [report.depths[d] for d in sorted(report.depths)])),
        ("elapsed", "Fetch time (pages with a response)", _bars(*_columns(report.elapsed_histogram()))),
        ("hosts", f"Top {TOP} hosts by pages", _horizontal(report.hosts)),
        ("host-errors", f"Top {TOP} hosts by errors", _horizontal(report.host_errors)),
        ("errors", "Error reasons", _horizontal(report.errors)),
        ("extractors", "Items per extractor", _horizontal(report.extractors)),
        ("dropped", "URLs kept out by each limit", _horizontal(Counter(report.dropped))),
    ]
    return [(key, title, chart) for key, title, chart in charts if chart]


def _columns(bars: list[tuple[str, int]]) -> tuple[list[str], list[int]]:
    return [label for label, _ in bars], [count for _, count in bars]


def _sorted_labels(counts: Counter[str]) -> tuple[list[str], list[int]]:
    labels = sorted(counts)
    return labels, [counts[label] for label in labels]


def _bars(labels: list[str], values: list[int], major: list[str] | None = None) -> str:
    """Vertical bars; with `major`, only those labels are shown under them (a time axis)."""
    if not any(values):
        return ""
    ticks = count_ticks(max(values))
    chart = pygal.Bar(style=_STYLE, width=_WIDTH, height=_HEIGHT,
                      x_label_rotation=30 if _crowded(major or labels) else 0,
                      **_counts_axis(ticks, len(values) <= _PRINTED_BARS))
    chart.x_labels = list(labels)
    if major is not None:
        chart.config(x_labels_major=major, show_minor_x_labels=False)
    chart.add("pages", _values(values, ticks[-1]))
    return _svg(chart)


def _crowded(labels: Sequence[str]) -> bool:
    """Whether the labels under a bar chart would run into each other side by side."""
    return max(map(len, labels)) * _LABEL_CHAR_WIDTH > _PLOT_WIDTH / len(labels) - 10


def _horizontal(counts: Counter[str]) -> str:
    top = [(label, count) for label, count in counts.most_common(TOP) if count]
    if not top:
        return ""
    values = [count for _, count in reversed(top)]
    ticks = _side_by_side_ticks(max(values), max(len(label) for label, _ in top))
    chart = pygal.HorizontalBar(style=_STYLE, width=_WIDTH, height=_ROWS_MARGIN + _ROW_HEIGHT * max(3, len(top)),
                                **_counts_axis(ticks, True))
    chart.x_labels = [label for label, _ in reversed(top)]
    chart.add("count", _values(values, ticks[-1]))
    return _svg(chart)


def _side_by_side_ticks(top: int, label_chars: int) -> list[int]:
    """The ticks of a horizontal chart's count axis: it runs far enough past the longest
    bar for the count printed after it, its labels stand side by side in the width the
    bars' labels leave, as many as fit ("1,000,000" needs room)."""
    plot = _WIDTH - 40 - label_chars * _LABEL_CHAR_WIDTH
    past_plot = _COUNT_GAP + len(_count(top)) * _LABEL_CHAR_WIDTH - _RIGHT_MARGIN
    axis_top = math.ceil(top * plot / (plot - max(0, past_plot)))
    tick = (len(_count(axis_top)) + 1) * _LABEL_CHAR_WIDTH + 16
    return count_ticks(axis_top, max(2, min(COUNT_INTERVALS, plot // tick)))


def _counts_axis(ticks: list[int], print_values: bool) -> dict[str, Any]:
    """A count axis on whole numbers (`ticks`); with `print_values`, each bar's count is printed on it."""
    return {"show_legend": False, "y_labels": ticks, "value_formatter": _count, "truncate_label": -1,
            "print_values": print_values, "print_values_position": "top"}


def _values(values: list[int], axis_top: int) -> list[dict[str, Any] | None]:
    """The bars as drawn (a small count raised to stay visible), each saying its own count;
    none at all for a zero."""
    return [{"value": shown, "formatter": _exactly(value)} if value else None
            for value, shown in zip(values, shown_heights(values, axis_top), strict=True)]


def _exactly(count: int) -> Callable[[float], str]:
    return lambda _: _count(count)


def _count(value: float) -> str:
    return f"{value:,.0f}"


def _svg(chart: pygal.graph.graph.Graph) -> str:
    """The chart inline, without pygal's tooltip script (fetched from its site) or an XML
    declaration (not allowed inside HTML)."""
    chart.config.js = []
    chart.config.disable_xml_declaration = True
    return str(chart.render(is_unicode=True))


def _bytes(count: int) -> str:
    value = float(count)
    for unit in ("B", "KB", "MB", "GB"):
        if value < 1000 or unit == "GB":
            return f"{value:.0f} {unit}" if unit == "B" else f"{value:.1f} {unit}"
        value /= 1000
    return f"{value:.1f} TB"


def _duration(seconds: float) -> str:
    if seconds < 10:
        return f"{seconds:.1f} s"
    minutes, rest = divmod(round(seconds), 60)
    hours, minutes = divmod(minutes, 60)
    return f"{hours} h {minutes} min" if hours else f"{minutes} min {rest} s" if minutes else f"{rest} s"
