"""The plain functions the Celery tasks wrap: parsing a fetch result into a record and
choosing which outlinks go to the frontier (depth limit and scope)."""

from __future__ import annotations

import json

from pipeline.fetch import FetchResult
from pipeline.frontier import Lease
from pipeline.settings import Policy
from pipeline.steps import links_to_follow, parse_result, to_record
from pipeline.store.base import Record

POLICY = Policy(max_depth=2, scope_hosts=("example.com",), allowed_domains=("example.org",))
HTML = (
    "<title>Home</title>"
    '<a href="/in">in</a><a href="http://sub.example.org/ok">allowed</a>'
    '<a href="http://elsewhere.net/">out of scope</a><a href="/nf" rel="nofollow">nf</a>'
)


def fetched(**changes) -> dict:
    result = FetchResult(
        url="http://example.com/",
        final_url="http://example.com/",
        status=200,
        content_type="text/html",
        text=HTML,
    )
    for name, value in changes.items():
        setattr(result, name, value)
    return json.loads(json.dumps(result.to_json()))


def test_parse_result_adds_title_and_outlinks_and_drops_the_text():
    parsed = parse_result(fetched(), POLICY)

    assert parsed["title"] == "Home"
    assert parsed["outlinks"] == ["http://example.com/in", "http://sub.example.org/ok", "http://elsewhere.net/"]
    assert "text" not in parsed
    json.dumps(parsed)  # still travels through the broker


def test_relative_links_resolve_against_the_final_url():
    parsed = parse_result(fetched(final_url="http://example.com/deep/page.html", text='<a href="next">n</a>'), POLICY)

    assert parsed["outlinks"] == ["http://example.com/deep/next"]


def test_parse_result_honours_the_policy_limits():
    text = "".join(f'<a href="/p{i}">x</a>' for i in range(20))

    parsed = parse_result(fetched(text=text), Policy(max_outlinks=3))

    assert len(parsed["outlinks"]) == 3


def test_error_page_is_not_parsed():
    parsed = parse_result(fetched(status=404, error="HTTP 404"), POLICY)

    assert parsed["title"] is None and parsed["outlinks"] == []


def test_non_html_result_has_no_outlinks():
    parsed = parse_result(fetched(text=None, content_type="image/png"), POLICY)

    assert parsed["outlinks"] == [] and parsed["title"] is None


def test_record_has_the_leased_url_and_depth():
    lease = Lease(url="http://example.com/", depth=1, host="example.com", token=7)
    parsed = parse_result(fetched(final_url="http://example.com/home", redirects=["http://example.com/home"]), POLICY)

    rec = to_record("job1", lease, parsed)

    assert isinstance(rec, Record)
    assert (rec.job, rec.url, rec.final_url, rec.depth) == ("job1", "http://example.com/", "http://example.com/home", 1)
    assert rec.title == "Home"
    assert rec.redirects == ["http://example.com/home"]


def test_a_sitemaps_record_has_its_real_url_and_kind_sitemap():
    lease = Lease(url="http://example.com/sitemap.xml", depth=0, host="example.com", token=3, kind="sitemap")
    parsed = parse_result(fetched(url=lease.url, final_url=lease.url, text=None, links=["http://example.com/in"]), POLICY)

    rec = to_record("job1", lease, parsed)

    assert (rec.url, rec.kind, rec.outlinks) == ("http://example.com/sitemap.xml", "sitemap", ["http://example.com/in"])
    assert to_record("job1", Lease(url=lease.url, depth=0, host="example.com", token=4), parsed).kind == "page"


def _record(depth: int) -> Record:
    lease = Lease(url="http://example.com/", depth=depth, host="example.com", token=1)
    return to_record("job1", lease, parse_result(fetched(), POLICY))


def test_links_to_follow_keep_scope_and_add_one_to_depth():
    assert links_to_follow(_record(0), POLICY) == [("http://example.com/in", 1), ("http://sub.example.org/ok", 1)]


def test_links_found_at_max_depth_are_recorded_but_not_followed():
    below, at_limit = _record(1), _record(2)

    assert [depth for _, depth in links_to_follow(below, POLICY)] == [2, 2]
    assert links_to_follow(at_limit, POLICY) == []
    assert at_limit.outlinks  # still recorded


def test_max_depth_zero_fetches_only_the_seeds():
    assert links_to_follow(_record(0), POLICY.merged(max_depth=0)) == []
