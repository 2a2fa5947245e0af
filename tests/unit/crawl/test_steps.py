"""The plain steps the Celery tasks wrap: parsing a fetch result, turning it into a
record, and choosing which outlinks go to the frontier (depth limit and scope)."""

from __future__ import annotations

import json
from dataclasses import replace

from pipeline.crawl.payload import Payload
from pipeline.crawl.steps import fetch_url, found, parse, to_record
from pipeline.fetch import FetchResult
from pipeline.frontier import Found, Lease, RecordKind
from pipeline.keys import Keyring
from pipeline.render import Choice, Decision, Evidence, Measure, Reason
from pipeline.settings import Policy

POLICY = Policy(max_depth=2, scope_hosts=("example.com",), allowed_domains=("example.org",))
HTML = (
    "<title>Home</title>"
    '<a href="/in">in</a><a href="http://sub.example.org/ok">allowed</a>'
    '<a href="http://elsewhere.net/">out of scope</a><a href="/nf" rel="nofollow">nf</a>'
)
LEASE = Lease(url="http://example.com/", depth=1, host="example.com", token=7)


def fetched(depth: int = 1, **changes) -> Payload:
    values = dict(url="http://example.com/", final_url="http://example.com/", status=200, content_type="text/html",
                  text=HTML)
    result = FetchResult(**{**values, **changes})
    lease = Lease(url="http://example.com/", depth=depth, host="example.com", token=7)
    # Through JSON and back, as between two tasks.
    return Payload.from_json(json.loads(json.dumps(Payload("job1", lease, result).to_json())))


def test_parse_adds_title_and_outlinks_and_drops_the_text():
    parsed = parse(fetched(), POLICY)

    assert parsed.title == "Home"
    assert parsed.outlinks == ["http://example.com/in", "http://sub.example.org/ok", "http://elsewhere.net/"]
    assert parsed.result.text is None
    assert Payload.from_json(json.loads(json.dumps(parsed.to_json()))) == parsed


def test_relative_links_resolve_against_the_final_url():
    parsed = parse(fetched(final_url="http://example.com/deep/page.html", text='<a href="next">n</a>'), POLICY)

    assert parsed.outlinks == ["http://example.com/deep/next"]


def test_parse_honours_the_policy_limits():
    text = "".join(f'<a href="/p{i}">x</a>' for i in range(20))

    assert len(parse(fetched(text=text), Policy(max_outlinks=3)).outlinks) == 3


def test_error_page_is_not_parsed():
    parsed = parse(fetched(status=404, error="HTTP 404"), POLICY)

    assert parsed.title is None and parsed.outlinks == []


def test_non_html_result_has_no_outlinks():
    parsed = parse(fetched(text=None, content_type="image/png"), POLICY)

    assert parsed.outlinks == [] and parsed.title is None


def test_a_page_the_parser_chokes_on_is_recorded_with_the_reason(monkeypatch):
    def choke(*args, **kwargs):
        raise RecursionError("maximum recursion depth exceeded")  # as deeply nested markup can

    monkeypatch.setattr("pipeline.crawl.steps.parse_html", choke)
    parsed = parse(fetched(), POLICY)

    record = to_record(parsed, POLICY)
    assert record.error == "parse error: RecursionError"
    assert record.outlinks == [] and record.status == 200


def test_a_sitemap_s_outlinks_are_the_pages_it_lists():
    parsed = parse(fetched(text=None, links=["http://example.com/listed"], sitemaps=["http://example.com/s2.xml"]),
                   POLICY)

    assert parsed.outlinks == ["http://example.com/listed"]
    assert found(parsed).sitemaps == ("http://example.com/s2.xml",)


def test_record_has_the_leased_url_and_depth():
    parsed = parse(fetched(final_url="http://example.com/home", redirects=["http://example.com/home"]), POLICY)

    rec = to_record(parsed, POLICY)

    assert (rec.job, rec.url, rec.final_url, rec.depth) == ("job1", "http://example.com/", "http://example.com/home", 1)
    assert rec.title == "Home"
    assert rec.redirects == ["http://example.com/home"]
    assert rec.fetched_at == parsed.result.fetched_at
    assert rec.kind == RecordKind.PAGE


def test_a_rendered_pages_decision_reaches_its_record_through_json():
    evidence = Evidence(3, Measure(0, 90), Measure(36, 10412))
    decided = replace(fetched(), render=Decision(Choice.RENDER, Reason.VERDICT, evidence))
    rendered = Payload.from_json(json.loads(json.dumps(decided.rendered(HTML, 0.75).to_json())))

    rec = to_record(parse(rendered, POLICY), POLICY)

    assert (rec.render_time, rec.render_reason) == (0.75, "auto verdict")
    assert rec.render_evidence == evidence.to_json()
    assert rec.render_evidence["rendered"] == {"links": 36, "text": 10412}
    assert to_record(parse(fetched(), POLICY), POLICY).render_reason is None


def test_a_sample_keeps_its_own_measures_in_place_of_the_decision_it_came_with():
    sampled = replace(fetched(), render=Decision(Choice.SAMPLE, Reason.SAMPLE))
    own = Decision(Choice.SAMPLE, Reason.SAMPLE, Evidence(1, Measure(0, 12), Measure(4, 480)))

    rec = to_record(parse(sampled.rendered(HTML, 0.5, render=own), POLICY), POLICY)

    assert (rec.render_reason, rec.render_evidence["rendered"]) == ("auto sample", {"links": 4, "text": 480})


def test_a_sitemap_s_record_has_its_real_url_and_kind():
    lease = Lease(url="http://example.com/sitemap.xml", depth=0, host="example.com", token=1, kind=RecordKind.SITEMAP)
    result = FetchResult(url=lease.url, final_url=lease.url, status=200, links=["http://example.com/a"])

    rec = to_record(parse(Payload("job1", lease, result), POLICY), POLICY)

    assert (rec.url, rec.kind, rec.outlinks) == ("http://example.com/sitemap.xml", RecordKind.SITEMAP, ["http://example.com/a"])


def _found(depth: int) -> Found:
    return found(parse(fetched(depth=depth), POLICY))


def test_links_to_follow_keep_scope():
    assert _found(0).entries(POLICY) == [
        ("http://example.com/in", RecordKind.PAGE), ("http://sub.example.org/ok", RecordKind.PAGE)
    ]


def test_links_found_at_any_depth_go_to_the_frontier_which_applies_the_limit():
    assert _found(2).entries(POLICY) == _found(0).entries(POLICY)


def test_a_wider_scope_is_obeyed_by_links_found_before_it():
    wider = POLICY.merged(allowed_domains=("example.org", "elsewhere.net"))

    assert "http://elsewhere.net/" in [url for url, _ in _found(0).entries(wider)]


def test_sitemaps_in_scope_are_listed_as_sitemaps():
    listed = Found(depth=0, sitemaps=("http://example.com/a.xml", "http://elsewhere.net/b.xml"))

    assert listed.entries(POLICY) == [("http://example.com/a.xml", RecordKind.SITEMAP)]


def test_seeds_are_never_filtered():
    assert Found.seeds(["http://new.example/"]).entries(POLICY) == [("http://new.example/", RecordKind.PAGE)]


class _Answers:
    """A fetcher that answers every URL with the same result, as a site would."""

    def __init__(self, result: FetchResult) -> None:
        self.result = result

    def fetch(self, url, policy, check, keep_body=False, prior=None) -> FetchResult:
        return self.result


class _NoRobots:
    def allowed(self, ring, url, policy) -> bool:
        return True


SITEMAP_LEASE = Lease(url="http://example.com/sitemap.xml", depth=0, host="example.com", token=1,
                      kind=RecordKind.SITEMAP)


def _read(result: FetchResult) -> FetchResult:
    return fetch_url(SITEMAP_LEASE, Keyring("job1"), Policy(), _Answers(result), _NoRobots())  # type: ignore[arg-type]


def test_a_sitemap_that_is_not_there_is_a_record_with_its_status_and_no_error():
    for status in (404, 410):
        missing = FetchResult(url=SITEMAP_LEASE.url, final_url=SITEMAP_LEASE.url, status=status,
                              error=f"HTTP {status}", body=b"")

        result = _read(missing)

        assert (result.status, result.error, result.links) == (status, None, None)


def test_a_sitemap_that_failed_otherwise_keeps_its_error():
    broken = FetchResult(url=SITEMAP_LEASE.url, final_url=SITEMAP_LEASE.url, status=500, error="HTTP 500", body=b"")

    assert _read(broken).error == "HTTP 500"
