"""Links already sent to the frontier are not sent again unless sending could change
something: a shallower page listing them, or a new policy."""

from __future__ import annotations

from pipeline.sent_links import SentLinks

A, B = ("http://a.example/", "page"), ("http://b.example/", "page")
SITEMAP_A = ("http://a.example/", "sitemap")


def test_a_link_sent_from_a_page_is_not_sent_again_from_as_deep_or_deeper_pages() -> None:
    links = SentLinks(100)
    links.sent([A], depth=2, version=1)

    assert links.unsent([A, B], depth=2, version=1) == [B]
    assert links.unsent([A, B], depth=5, version=1) == [B]


def test_a_shallower_page_sends_it_again_so_its_depth_can_be_lowered() -> None:
    links = SentLinks(100)
    links.sent([A], depth=2, version=1)

    assert links.unsent([A], depth=1, version=1) == [A]
    links.sent([A], depth=1, version=1)
    assert links.unsent([A], depth=1, version=1) == []


def test_a_page_and_a_sitemap_of_the_same_url_are_different_links() -> None:
    links = SentLinks(100)
    links.sent([A], depth=0, version=1)

    assert links.unsent([SITEMAP_A], depth=0, version=1) == [SITEMAP_A]


def test_a_new_policy_forgets_everything_sent_under_the_old_one() -> None:
    links = SentLinks(100)
    links.sent([A], depth=0, version=1)

    assert links.unsent([A], depth=3, version=2) == [A]
    links.sent([B], depth=0, version=1)  # a call made under the old policy, answered late
    assert links.unsent([A, B], depth=3, version=2) == [A, B]


def test_memory_is_bounded_and_forgets_the_least_recently_used() -> None:
    links = SentLinks(2)
    c = ("http://c.example/", "page")
    links.sent([A, B], depth=0, version=1)
    links.unsent([A], depth=0, version=1)  # A used again: B is now the oldest
    links.sent([c], depth=0, version=1)

    assert links.unsent([A, B, c], depth=0, version=1) == [B]
