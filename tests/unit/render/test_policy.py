"""Which pages go to the browser, and the render=auto verdict from a host's samples."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.fetch import FetchResult
from pipeline.render import Choice, Decision, Evidence, Measure, Reason, always_reason, measure, wants_render
from pipeline.settings import Policy

PAGE = FetchResult(url="http://a.example/", final_url="http://a.example/", status=200, content_type="text/html",
                   text="<html></html>")


def test_only_a_whole_html_page_of_a_job_that_renders_goes_to_the_browser():
    always = Policy(render="always")

    assert wants_render(always, PAGE) and wants_render(Policy(render="auto"), PAGE)
    assert not wants_render(Policy(), PAGE), "never is the default"
    assert not wants_render(always, PAGE, sitemap=True)
    assert not wants_render(always, FetchResult.failed(PAGE.url, "timeout"))
    assert not wants_render(always, FetchResult(url=PAGE.url, final_url=PAGE.url, status=304))
    assert not wants_render(always, FetchResult(url=PAGE.url, final_url=PAGE.url, status=200,
                                                content_type="application/pdf", text=None))


def test_a_mode_that_does_not_exist_is_refused_in_one_line():
    with pytest.raises(ConfigError, match="CRAWLER_RENDER must be one of never, auto, always"):
        Policy(render="sometimes")


def test_a_page_is_measured_by_its_distinct_links_and_the_text_a_person_sees():
    html = """<html><head><title>t</title><style>p {}</style></head><body>
        <a href="/a">one</a> <a href="/a">again</a> <a href="/b">two</a>
        <script>var hidden = "not text";</script><p>  some   words </p></body></html>"""

    assert measure(html) == Measure(links=2, text=len("one again two some words"))
    assert measure("") == Measure(0, 0)


@pytest.mark.parametrize(("plain", "rendered", "verdict"), [
    (Measure(0, 30), Measure(12, 2000), Choice.RENDER),  # an empty shell
    (Measure(40, 5000), Measure(41, 5100), Choice.PLAIN),  # a widget: not material
    (Measure(40, 5000), Measure(60, 5000), Choice.RENDER),  # half as many links again
    (Measure(10, 1000), Measure(10, 1300), Choice.RENDER),  # text: 300 more is past both floors
    (Measure(0, 0), Measure(0, 150), Choice.PLAIN),  # under the text floor
])
def test_the_verdict_is_to_render_only_where_the_browser_finds_materially_more(plain, rendered, verdict):
    assert Evidence(3, plain, rendered).verdict(gain=0.2) == verdict


def test_the_evidence_says_by_how_much():
    summary = Evidence(3, Measure(0, 30), Measure(12, 2000)).summary()

    assert summary == "links 0 -> 12, text 30 -> 2,000 chars over 3 pages"


def test_a_decision_says_why_and_travels_as_json():
    verdict = Decision(Choice.PLAIN, Reason.VERDICT, Evidence(3, Measure(41, 5210), Measure(41, 5230)))

    assert Decision.from_json(verdict.to_json()) == verdict and not verdict.to_browser
    assert verdict.to_json()["evidence"] == {"pages": 3, "plain": {"links": 41, "text": 5210},
                                             "rendered": {"links": 41, "text": 5230}}
    assert Decision(Choice.SAMPLE, Reason.SAMPLE).to_browser
    assert (always_reason(None), always_reason("*.example.org")) == ("job policy", "host rule *.example.org")
