"""Links already sent to the frontier are not sent again unless sending could change
something: a shallower page listing them, or a new policy."""

from __future__ import annotations

from pipeline.frontier.sent_links import SentLinks

A, B = ("http://a.example/", "page"), ("http://b.example/", "page")
SITEMAP_A = ("http://a.example/", "sitemap")


def test_a_link_sent_from_a_page_is_not_sent_again_from_as_deep_or_deeper_pages() -> None:
    links = SentLinks(100)
    links.sent("job", [A], depth=2, version=1)

    assert links.unsent("job", [A, B], depth=2, version=1) == [B]
    assert links.unsent("job", [A, B], depth=5, version=1) == [B]


def test_a_shallower_page_sends_it_again_so_its_depth_can_be_lowered() -> None:
    links = SentLinks(100)
    links.sent("job", [A], depth=2, version=1)

    assert links.unsent("job", [A], depth=1, version=1) == [A]
    links.sent("job", [A], depth=1, version=1)
    assert links.unsent("job", [A], depth=1, version=1) == []


def test_a_page_and_a_sitemap_of_the_same_url_are_different_links() -> None:
    links = SentLinks(100)
    links.sent("job", [A], depth=0, version=1)

    assert links.unsent("job", [SITEMAP_A], depth=0, version=1) == [SITEMAP_A]


def test_jobs_do_not_share_what_was_sent() -> None:
    links = SentLinks(100)
    links.sent("news", [A], depth=0, version=1)

    assert links.unsent("blogs", [A], depth=0, version=1) == [A]


def test_what_was_sent_under_another_policy_is_not_trusted() -> None:
    links = SentLinks(100)
    links.sent("job", [A], depth=0, version=1)

    assert links.unsent("job", [A], depth=3, version=2) == [A]
    links.sent("job", [A], depth=3, version=2)
    assert links.unsent("job", [A], depth=3, version=2) == []
    assert links.unsent("job", [A], depth=3, version=1) == [A], "a call answered after the re-seed"


def test_memory_is_bounded_and_forgets_the_least_recently_used() -> None:
    links = SentLinks(2)
    c = ("http://c.example/", "page")
    links.sent("job", [A, B], depth=0, version=1)
    links.unsent("job", [A], depth=0, version=1)  # A used again: B is now the oldest
    links.sent("job", [c], depth=0, version=1)

    assert links.unsent("job", [A, B, c], depth=0, version=1) == [B]
