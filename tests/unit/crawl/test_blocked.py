"""Which links a page's store step settles as disallowed by robots.txt, without the
frontier: only those whose host's robots.txt is known and says no, in scope, and for a
page within max_depth; the rest are scheduled as ever."""

from __future__ import annotations

from pipeline.crawl.blocked import _verdicts, depth_of, split
from pipeline.crawl.steps import blocked_record
from pipeline.frontier import Found, RecordKind
from pipeline.settings import Policy

POLICY = Policy(scope_hosts=("a.test", "b.test"), max_depth=3)
ALLOWED, DISALLOWED, UNKNOWN = "http://a.test/ok", "http://a.test/private/x", "http://b.test/x"


def test_only_a_link_a_known_robots_txt_disallows_is_settled():
    found = Found(1, pages=(ALLOWED, DISALLOWED, UNKNOWN))

    kept, blocked = split(found, POLICY, {ALLOWED: True, DISALLOWED: False, UNKNOWN: None})

    assert blocked == [(DISALLOWED, RecordKind.PAGE)]
    assert kept.pages == (ALLOWED, UNKNOWN), "an unknown robots.txt is checked at lease time"
    assert kept.depth == 1


def test_nothing_disallowed_leaves_what_was_found_as_it_was():
    found = Found(1, pages=(ALLOWED, UNKNOWN), sitemaps=("http://a.test/sitemap.xml",))

    assert split(found, POLICY, {ALLOWED: True}) == (found, [])


def test_a_disallowed_sitemap_is_settled_as_a_sitemap():
    sitemap = "http://a.test/private/sitemap.xml"
    found = Found(2, pages=(DISALLOWED,), sitemaps=(sitemap,))

    kept, blocked = split(found, POLICY, {DISALLOWED: False, sitemap: False})

    assert blocked == [(DISALLOWED, RecordKind.PAGE), (sitemap, RecordKind.SITEMAP)]
    assert kept.pages == () and kept.sitemaps == ()
    assert depth_of(found, RecordKind.PAGE) == 3 and depth_of(found, RecordKind.SITEMAP) == 2


def test_a_page_past_max_depth_is_left_to_the_depth_limit():
    found = Found(3, pages=(DISALLOWED,))

    kept, blocked = split(found, POLICY, {DISALLOWED: False})

    assert blocked == [] and kept.pages == (DISALLOWED,)


def test_a_link_out_of_scope_is_never_settled():
    outside = "http://c.test/private/x"

    kept, blocked = split(Found(0, pages=(outside,)), POLICY, {outside: False})

    assert blocked == [] and kept.pages == (outside,)


def test_the_record_of_a_disallowed_link_is_the_one_its_fetch_would_have_left():
    record = blocked_record("job", DISALLOWED, RecordKind.PAGE, 2, POLICY)

    assert (record.url, record.final_url, record.depth, record.kind) == (DISALLOWED, DISALLOWED, 2, RecordKind.PAGE)
    assert record.error == "blocked by robots.txt"
    assert record.status is None and record.outlinks == []


class _Robots:
    """Says no to every link, and notes the user agent and robots flag each call had."""

    def __init__(self) -> None:
        self.calls: list[tuple[tuple[str, ...], str, bool]] = []

    def verdicts(self, ring, urls, policy):
        self.calls.append((tuple(urls), policy.user_agent, policy.robots))
        return dict.fromkeys(urls, not policy.robots)


class _Ctx:
    def __init__(self) -> None:
        self.robots = _Robots()


class _Frontier:
    keyring = None


def test_each_link_is_judged_under_its_hosts_rule():
    policy = Policy(user_agent="JobBot", host_rules=("b.test robots=off", "*.c.test user_agent=OtherBot"))
    ctx = _Ctx()
    urls = ["http://a.test/1", "http://b.test/1", "http://www.c.test/1", "http://a.test/2"]

    verdicts = _verdicts(ctx, _Frontier(), urls, policy)

    assert verdicts == {"http://a.test/1": False, "http://b.test/1": True, "http://www.c.test/1": False,
                        "http://a.test/2": False}
    assert sorted(ctx.robots.calls) == [
        (("http://a.test/1", "http://a.test/2"), "JobBot", True),
        (("http://b.test/1",), "JobBot", False),
        (("http://www.c.test/1",), "OtherBot", True),
    ]
