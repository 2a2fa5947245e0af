"""The crawl report: what it counts from a job's records, and the HTML it makes of them,
which must hold every section and reference nothing outside the file."""

from __future__ import annotations

import re
from itertools import pairwise

import pytest
from bs4 import BeautifulSoup

from pipeline.fetch.robots import BLOCKED
from pipeline.report import render_html, summarize
from pipeline.report.summary import NO_RESPONSE
from pipeline.store.base import Record


def _record(url: str, status: int | None, at: str, depth: int = 1, error: str | None = None,
            elapsed: float = 0.1, length: int = 1000, content_type: str | None = "text/html; charset=utf-8") -> Record:
    return Record(job="j", url=url, final_url=url, status=status, depth=depth, content_type=content_type,
                  title=None, outlinks=[], fetched_at=at, error=error, length=length, elapsed=elapsed)


RECORDS = [
    _record("http://a.example/", 200, "2026-12-01T10:00:00.000Z", depth=0, elapsed=0.02),
    _record("http://a.example/1", 200, "2026-12-01T10:00:05.000Z", elapsed=0.2),
    _record("http://a.example/gone", 404, "2026-12-01T10:00:12.500Z", error="HTTP 404", elapsed=0.06, length=10),
    _record("http://b.example:8080/x", 200, "2026-12-01T10:00:30.000Z", depth=2, elapsed=3.0,
            content_type="application/pdf"),
    _record("http://c.example/", None, "2026-12-01T10:00:40.000Z", error="address not allowed: 10.0.0.1 (use "
            "--allow-private)", elapsed=0.0, length=0, content_type=None),
]


def test_the_report_counts_pages_failures_bytes_and_time_from_the_records():
    report = summarize("j", RECORDS, ["text", "text", "mod:products"], {"max_depth": 7})

    assert (report.pages, report.ok, report.failed, report.bytes) == (5, 3, 2, 3010)
    assert report.seconds == 40.0 and report.pages_per_s == 5 / 40
    assert report.statuses == {"2xx": 3, "4xx": 1, NO_RESPONSE: 1}
    assert report.content_types == {"text/html": 3, "application/pdf": 1}
    assert report.depths == {0: 1, 1: 3, 2: 1}
    assert report.hosts.most_common(1) == [("a.example", 3)] and report.host_errors == {"a.example": 1,
                                                                                         "c.example": 1}
    assert report.errors == {"HTTP 404": 1, "address not allowed": 1}
    assert report.extractors == {"text": 2, "mod:products": 1} and report.dropped == {"max_depth": 7}


def test_fetch_times_are_those_of_pages_with_a_response():
    report = summarize("j", RECORDS)

    assert sorted(report.elapsed) == [0.02, 0.06, 0.2, 3.0]
    assert (report.percentile(0.5), report.percentile(0.9), report.percentile(0.99)) == (0.06, 3.0, 3.0)
    histogram = dict(report.elapsed_histogram())
    assert (histogram["< 0.05 s"], histogram["< 0.1 s"], histogram["< 0.25 s"], histogram["< 5 s"]) == (1, 1, 1, 1)
    assert sum(histogram.values()) == 4


def test_the_timeline_counts_pages_per_bar_from_the_first_fetch():
    bins, bars = summarize("j", RECORDS).timeline()

    assert bins.step == "1 s" and len(bars) == 41 and sum(bars) == 5
    assert [second for second, count in enumerate(bars) if count] == [0, 5, 12, 30, 40]


def _seconds(count: int, seconds: float, status: int = 200) -> list[Record]:
    """`count` pages fetched evenly over `seconds`."""
    return [_record(f"http://a.example/{status}/{i}", status,
                    f"2026-12-01T10:00:{seconds * i / max(1, count - 1):06.3f}Z",
                    error=None if status < 400 else f"HTTP {status}")
            for i in range(count)]


def _bar_sizes(page: BeautifulSoup, section: str) -> list[float]:
    """The drawn length of each bar of a section's chart (a horizontal chart's bars are its width)."""
    rects = page.find(id=section).select(".bar rect")
    return [float(rect["width"] if "horizontal" in " ".join(page.find(id=section).svg.g["class"]) else rect["height"])
            for rect in rects]


def test_a_crawl_of_seconds_draws_several_bars_over_time():
    page = BeautifulSoup(render_html(summarize("j", _seconds(300, 2.7))), "lxml")

    assert page.find(id="timeline").h2.get_text() == "Pages stored in each 0.1 s from the first fetch"
    bars = _bar_sizes(page, "timeline")
    assert len(bars) == 28 and min(bars) > 0


def test_a_bar_of_one_beside_303_is_still_seen():
    records = _seconds(303, 3) + _seconds(1, 0, status=404)
    page = BeautifulSoup(render_html(summarize("j", records)), "lxml")

    assert min(_bar_sizes(page, "statuses")) >= 3 and min(_bar_sizes(page, "errors")) >= 3
    assert "1" in [text.get_text() for text in page.find(id="statuses").select(".value")]


def test_count_axes_are_whole_numbers():
    page = BeautifulSoup(render_html(summarize("j", RECORDS, ["text"], {"max_depth": 7})), "lxml")

    labels = [text.get_text() for text in page.select("section .axis text")]
    assert "1" in labels and not [label for label in labels if re.fullmatch(r"[\d,]*\.\d+", label)], labels


def test_the_grid_is_light_and_solid():
    text = render_html(summarize("j", RECORDS))

    assert set(re.findall(r"stroke-dasharray:\s*([^;}]+)", text)) == {"none"}


@pytest.mark.parametrize(("records", "label", "value"), [
    (RECORDS, "pages/s from the first fetch to the last (40 s)", "0.1"),
    (_seconds(300, 2.7), "pages/s from the first fetch to the last (2.7 s)", "111.1"),
    (RECORDS[:1], "pages/s: every page fetched at one instant, no time to divide by", "n/a"),
])
def test_the_rate_says_what_it_divides_by(records, label, value):
    page = BeautifulSoup(render_html(summarize("j", records)), "lxml")

    rate = page.find(id="rate")
    assert (rate.b.get_text(), rate.get_text()[len(rate.b.get_text()):]) == (value, label)


def test_the_html_holds_every_section_and_the_headline_numbers():
    page = BeautifulSoup(render_html(summarize("j", RECORDS, ["text"], {"max_depth": 7})), "lxml")

    sections = {section["id"]: section for section in page.find_all("section")}
    assert set(sections) == {"timeline", "statuses", "content-types", "depths", "elapsed", "hosts", "host-errors",
                             "errors", "extractors", "dropped"}
    assert all(section.find("svg") is not None for section in sections.values())
    headline = {div["id"]: div.b.get_text() for div in page.find(id="headline").find_all("div")}
    assert (headline["pages"], headline["ok"], headline["failed"], headline["duration"]) == ("5", "3", "2", "40 s")
    assert headline["p50"] == "0.060 s" and headline["bytes"] == "3.0 KB"


def test_a_section_with_nothing_to_show_is_left_out():
    page = BeautifulSoup(render_html(summarize("j", RECORDS[:2])), "lxml")

    assert {section["id"] for section in page.find_all("section")} >= {"timeline", "hosts"}
    assert page.find(id="errors") is None and page.find(id="extractors") is None and page.find(id="dropped") is None


def test_the_html_references_nothing_outside_the_file():
    text = render_html(summarize("j", RECORDS, ["text"], {"max_depth": 7}))
    page = BeautifulSoup(text, "lxml")

    assert page.find("script", src=True) is None and page.find("link") is None
    names = ("src", "href", "xlink:href")
    references = [tag.get(name) for tag in page.find_all(True) for name in names if tag.get(name)]
    assert all(not re.match(r"(https?:)?//", reference) for reference in references), references
    assert not re.search(r"url\(\s*['\"]?(https?:)?//", text) and "@import" not in text


def test_the_counts_under_a_horizontal_chart_stand_apart_and_the_longest_bar_leaves_room_for_its_count():
    records = [_record(f"http://host{i}.example.com/{n}", 200, "2026-12-01T10:00:00.000Z")
               for i, pages in enumerate((1_500, 420, 3)) for n in range(pages)]
    page = BeautifulSoup(render_html(summarize("j", records)), "lxml")

    axis = page.find(id="hosts").select("g.axis.x text")
    ticks = [(float(text["x"]), text.get_text()) for text in axis]
    assert ticks[-1][1] == "2,000" and [label for _, label in ticks] == ["0", "500", "1,000", "1,500", "2,000"]
    assert all(right - left >= len(label) * 8 for (left, _), (right, label) in pairwise(ticks))


def test_links_robots_txt_disallowed_are_told_apart_and_left_out_of_the_rate():
    blocked = [_record(f"http://a.example/private/{i}", None, "2026-12-01T10:00:20.000Z", error=BLOCKED,
                       elapsed=0.0, length=0, content_type=None) for i in range(3)]
    report = summarize("j", RECORDS + blocked)

    assert (report.pages, report.ok, report.failed, report.disallowed) == (8, 3, 2, 3)
    assert report.pages_per_s == 5 / 40, "the five pages requested over the 40 s"
    page = BeautifulSoup(render_html(report), "lxml")
    headline = {div["id"]: div.b.get_text() for div in page.find(id="headline").find_all("div")}
    assert (headline["pages"], headline["failed"], headline["disallowed"], headline["rate"]) == ("8", "2", "3", "0.1")
