"""Which stored failures a new policy lifts, so re-seeding with the flag an error named
fetches the seed again (and nothing else is fetched twice)."""

from __future__ import annotations

import pytest

from pipeline.crawl.jobs import lifted
from pipeline.settings import Policy
from pipeline.store.base import Record

BASE = Policy()


def failed(error: str) -> Record:
    return Record(job="j", url="http://a.example/", final_url="http://a.example/", status=None, depth=0,
                  content_type=None, title=None, outlinks=[], fetched_at="2026-12-06T00:00:00Z", error=error)


@pytest.mark.parametrize(
    ("error", "new", "expected"),
    [
        ("address not allowed: 127.0.0.1 (use --allow-private)", BASE.merged(allow_private=True), True),
        ("address not allowed: 127.0.0.1 (use --allow-private)", BASE, False),
        ("blocked by robots.txt", BASE.merged(robots=False), True),
        ("blocked by robots.txt", BASE.merged(allow_private=True), False),
        ("redirect out of scope", BASE.merged(allowed_domains=("b.example",)), True),
        ("redirect out of scope", BASE, False),
        ("redirect out of scope", BASE.merged(scope="any"), True),
        ("redirect out of scope", BASE.merged(max_hosts=5), False),
        ("HTTP 500", BASE.merged(allow_private=True, robots=False), False),
        ("DNS lookup failed", BASE.merged(allow_private=True), False),
    ],
)
def test_a_failure_is_lifted_only_by_the_flag_that_removes_its_reason(error, new, expected):
    assert lifted(failed(error), BASE, new) is expected
