"""A revisit's history and schedule: what a stored record tells the next fetch of its
URL, and when a continuously crawled URL is due again (the adaptive formula the README
documents)."""

from __future__ import annotations

import json
from dataclasses import replace

import pytest

from pipeline.errors import ConfigError
from pipeline.fetch.exchange import WarcPointer
from pipeline.fetch.history import CHANGED_FACTOR, UNCHANGED_FACTOR, NextVisit, Prior, next_visit
from pipeline.frontier.data import Lease
from pipeline.settings import Policy
from pipeline.store.base import Record

CONTINUOUS = Policy(revisit_interval=100.0, revisit_min=30.0, revisit_max=400.0)
NOW = 1_000_000.0


def _prior(interval: float | None, content_hash: str = "h1") -> Prior:
    return Prior("http://a.example/", "2026-12-01T00:00:00.000Z", etag='"e"', content_hash=content_hash,
                 interval=interval)


def test_a_job_that_crawls_once_schedules_no_revisit():
    assert next_visit(Policy(), _prior(100.0), 200, "h2", failed=False, now=NOW) == NextVisit()


def test_a_first_fetch_is_due_again_after_the_jobs_interval():
    assert next_visit(CONTINUOUS, None, 200, "h1", failed=False, now=NOW) == NextVisit(100.0, NOW + 100.0)


@pytest.mark.parametrize(
    ("status", "content_hash", "interval"),
    [
        (200, "h2", 100.0 * CHANGED_FACTOR),
        (200, "h1", 100.0 * UNCHANGED_FACTOR),
        (304, None, 100.0 * UNCHANGED_FACTOR),
    ],
    ids=["changed", "same content", "not modified"],
)
def test_the_interval_shrinks_after_a_change_and_grows_when_nothing_changed(status, content_hash, interval):
    assert next_visit(CONTINUOUS, _prior(100.0), status, content_hash, failed=False, now=NOW) == NextVisit(
        interval, NOW + interval
    )


def test_the_interval_stays_within_the_bounds_and_a_failure_leaves_it_as_it_was():
    assert next_visit(CONTINUOUS, _prior(40.0), 200, "h2", failed=False, now=NOW).interval == 30.0
    assert next_visit(CONTINUOUS, _prior(350.0), 304, None, failed=False, now=NOW).interval == 400.0
    assert next_visit(CONTINUOUS, _prior(350.0), None, None, failed=True, now=NOW).interval == 350.0


def test_a_revisit_carries_the_validators_and_the_archived_record_of_the_last_fetch():
    record = Record(job="j", url="http://a.example/old", final_url="http://a.example/new", status=200, depth=1,
                    content_type="text/html", title="t", outlinks=[], fetched_at="2026-12-01T00:00:00.000Z",
                    error=None, etag='"e1"', last_modified="Sun, 22 Nov 2026 10:00:00 GMT", content_hash="h",
                    warc=WarcPointer("crawl-1.warc.gz", 0, 512, "<urn:uuid:1>", "sha1:AAAA"), revisit_interval=60.0)

    prior = record.prior()

    assert prior.url == "http://a.example/new", "the validators are those of the URL that answered"
    assert prior.conditional_headers() == {
        "If-None-Match": '"e1"', "If-Modified-Since": "Sun, 22 Nov 2026 10:00:00 GMT"
    }
    assert prior.reference() is not None and prior.reference().digest == "sha1:AAAA"
    assert Prior.from_json(prior.to_json()) == prior
    assert Prior("http://a.example/", "2026-12-01T00:00:00.000Z").conditional_headers() == {}
    assert Prior("http://a.example/", "2026-12-01T00:00:00.000Z").reference() is None


def test_a_queued_revisit_keeps_its_warc_pointer_flat_as_before():
    """Revisits wait in Redis as JSON: the pointer keeps the fields it always had there."""
    pointer = WarcPointer("crawl-1.warc.gz", 9, 99, "<urn:uuid:2>", "sha1:BBBB", revisit="server-not-modified")
    prior = Prior("http://a.example/", "2026-12-01T00:00:00.000Z", warc=pointer)

    data = prior.to_json()

    assert {k: v for k, v in data.items() if k.startswith("warc")} == {
        "warc_file": "crawl-1.warc.gz", "warc_offset": 9, "warc_length": 99, "warc_record_id": "<urn:uuid:2>",
        "warc_digest": "sha1:BBBB",
    }
    assert Prior.from_json(data) == replace(prior, warc=replace(prior.warc, revisit=None))
    bare = Prior("http://a.example/", "2026-12-01T00:00:00.000Z")
    assert bare.to_json()["warc_file"] is None and Prior.from_json(bare.to_json()) == bare


def test_a_revisit_lease_carries_its_prior_through_json():
    prior = Prior("http://a.example/", "2026-12-01T00:00:00.000Z",
                  warc=WarcPointer("crawl-1.warc.gz", 9, 99, "<urn:uuid:2>", "sha1:BBBB"))
    lease = Lease("http://a.example/", 1, "a.example", 7, prior=prior)

    assert Lease.from_json(json.loads(json.dumps(lease.to_json()))) == lease


def test_an_interval_outside_its_bounds_is_refused():
    with pytest.raises(ConfigError, match="CRAWLER_REVISIT_INTERVAL"):
        Policy(revisit_interval=10.0, revisit_min=60.0)
    assert Policy(revisit_interval=0.0, revisit_min=60.0).revisit_interval == 0.0
