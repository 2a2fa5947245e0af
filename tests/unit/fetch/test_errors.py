"""The fetch errors are values built whole: context is added by making a new error, and
the crawler's own failures share a parent that tells them from the URL's."""

from __future__ import annotations

import pytest

from pipeline.errors import CrawlError
from pipeline.fetch.errors import (
    ArchiveUnavailable,
    EgressUnavailable,
    FetchError,
    PermanentFetchError,
    TransientFetchError,
    WorkerUnavailable,
)
from pipeline.fetch.exchange import WarcPointer

HOP = WarcPointer("crawl-1.warc.gz", 0, 100, "<urn:uuid:1>")


def test_context_makes_a_new_error_of_the_same_kind_and_leaves_the_first_as_it_was():
    raised = PermanentFetchError("blocked by robots.txt")

    reported = raised.with_context(status=301, redirects=["http://a.example/b"], warc=HOP)

    assert type(reported) is PermanentFetchError and reported is not raised
    assert (reported.reason, reported.status, reported.redirects, reported.warc) == (
        "blocked by robots.txt", 301, ("http://a.example/b",), HOP
    )
    assert (raised.status, raised.redirects, raised.warc) == (None, (), None)


def test_the_raisers_own_status_and_record_win_over_the_hops():
    own = WarcPointer("crawl-1.warc.gz", 100, 50, "<urn:uuid:2>")
    raised = TransientFetchError("HTTP 503", 503, retry_after=30.0, warc=own)

    reported = raised.with_context(status=301, warc=HOP)

    assert (reported.status, reported.warc, reported.retry_after, reported.redirects) == (503, own, 30.0, ())


def test_the_crawlers_own_failures_are_told_from_the_urls():
    for error in (EgressUnavailable("no proxy", wait=1.0), ArchiveUnavailable("disk full", wait=30.0)):
        with pytest.raises(WorkerUnavailable):
            raise error
        assert not isinstance(error, FetchError) and isinstance(error, CrawlError)
    assert not issubclass(ArchiveUnavailable, EgressUnavailable)
