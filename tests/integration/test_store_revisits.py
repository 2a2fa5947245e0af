"""Revisits in every store backend, against the real thing (SQLite on disk and the
PostgreSQL server): a 304 keeps the stored content, and the revisit schedule hands due
URLs back."""

from __future__ import annotations

import dataclasses
import uuid

from pipeline.fetch import WarcPointer
from pipeline.store import Record
from pipeline.store.base import DueCounts, Item
from tests.integration.stores import a_page, later


def _archived(job: str, url: str) -> Record:
    """A page fetched with validators, rendered and written to WARC, scheduled for a revisit."""
    return dataclasses.replace(
        a_page(job, url, "v1", [url + "/a"]), content_hash="aaa", length=120, encoding="utf-8", etag='"1"',
        last_modified="Sun, 22 Nov 2026 00:00:00 GMT", warc=WarcPointer("crawl-1.warc.gz", 0, 512, "<urn:uuid:1>",
                                                                         "sha1:AAAA"),
        first_fetched_at="2026-11-22T00:00:00Z", changed_at="2026-11-22T00:00:00Z", extract_error="mod:x: KeyError",
        revisit_interval=60.0, next_fetch_at=60.0, render_time=0.5, render_reason="auto verdict",
        render_evidence={"pages": 3, "plain": {"links": 0, "text": 9}, "rendered": {"links": 5, "text": 700}},
    )


def _not_modified(record: Record, seconds: int, **changes: object) -> Record:
    """What a worker makes of a 304 to its conditional revisit of `record`: no content (and
    no render), a WARC revisit record of its own, and the URL rescheduled."""
    return later(
        record, seconds, final_url=record.url + "?304", status=304, content_type=None, title=None, outlinks=[],
        content_hash=None, length=0, encoding=None, redirects=[],
        warc=WarcPointer("crawl-2.warc.gz", 9, 99, "<urn:uuid:2>"), extract_error=None, elapsed=0.05, depth=0,
        first_fetched_at=f"2026-11-22T00:00:{seconds:02d}Z", changed_at=None, revisit_interval=90.0,
        next_fetch_at=100.0 + seconds, render_time=None, render_reason=None, render_evidence=None, **changes,
    )


def test_a_304_keeps_the_stored_content_and_items_and_takes_the_new_fetch(store):
    job = f"t-{uuid.uuid4().hex[:8]}"
    first = _archived(job, "http://a.example/1")
    store.put(first, [Item("text", {"text": "v1"})])

    store.put(_not_modified(first, 10, etag='"2"', last_modified=None))

    assert list(store.records(job)) == [dataclasses.replace(
        first, fetched_at="2026-11-22T00:00:10Z", elapsed=0.05, depth=0, etag='"2"', fetch_count=2,
        revisit="not-modified", revisit_interval=90.0, next_fetch_at=110.0,
    )]
    assert list(store.items(job)) == [("http://a.example/1", Item("text", {"text": "v1"}))]

    store.put(_not_modified(first, 20, etag=None, last_modified="Mon, 23 Nov 2026 00:00:00 GMT", error="slow"))
    (stored,) = store.records(job)
    assert (stored.etag, stored.last_modified) == ('"2"', "Mon, 23 Nov 2026 00:00:00 GMT")
    assert (stored.status, stored.title, stored.warc.record_id, stored.error) == (200, "v1", "<urn:uuid:1>", "slow")
    assert (stored.fetch_count, stored.revisit, stored.changed_at) == (3, "not-modified", "2026-11-22T00:00:00Z")


def test_a_200_after_a_304_replaces_the_content_as_usual(store):
    job = f"t-{uuid.uuid4().hex[:8]}"
    first = _archived(job, "http://a.example/1")
    store.put(first, [Item("text", {"text": "v1"})])
    store.put(_not_modified(first, 10))

    changed = later(
        first, 20, title="v2", outlinks=[], content_hash="bbb", etag=None, last_modified=None,
        warc=WarcPointer("crawl-1.warc.gz", 700, 512, "<urn:uuid:3>", "sha1:BBBB"), changed_at="2026-11-22T00:00:20Z",
        next_fetch_at=80.0,
    )
    store.put(changed, [Item("text", {"text": "v2"})])

    assert list(store.records(job)) == [dataclasses.replace(
        changed, first_fetched_at="2026-11-22T00:00:00Z", fetch_count=3, revisit="changed",
    )]
    assert list(store.items(job)) == [("http://a.example/1", Item("text", {"text": "v2"}))]


def test_a_304_for_a_url_the_store_has_no_record_of_is_stored_as_given(store):
    job = f"t-{uuid.uuid4().hex[:8]}"
    not_modified = _not_modified(_archived(job, "http://a.example/1"), 10)

    store.put(not_modified)

    assert list(store.records(job)) == [not_modified]


def _scheduled(job: str, path: str, next_fetch_at: float | None, seconds: int = 0, kind: str = "page") -> Record:
    return later(a_page(job, f"http://a.example/{path}", path, []), seconds, kind=kind, next_fetch_at=next_fetch_at)


def test_due_hands_the_jobs_due_urls_earliest_first_at_most_limit_at_a_time(store):
    job, other_job = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    for path, at in (("c", 30.0), ("a", 10.0), ("b", 20.0), ("once", None), ("later", 50.0)):
        store.put(_scheduled(job, path, at))
    store.put(_scheduled(other_job, "other", 5.0))

    assert [r.url.rsplit("/", 1)[1] for r in store.due(job, 40.0, 2)] == ["a", "b"]
    assert [r.url.rsplit("/", 1)[1] for r in store.due(job, 40.0, 10)] == ["a", "b", "c"]
    assert store.due(job, 10.0, 10) == [_scheduled(job, "a", 10.0)]
    assert store.due(job, 9.5, 10) == [] and store.due(job, 40.0, 0) == []


def test_make_due_schedules_every_record_of_the_job_or_those_fetched_before_a_time(store):
    job, other_job = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    for path, seconds in (("a", 0), ("b", 10), ("c", 20)):
        store.put(_scheduled(job, path, None, seconds))
    store.put(_scheduled(other_job, "a", None))

    assert store.make_due(job, 5.0, fetched_before="2026-11-22T00:00:10Z") == 2
    assert [r.next_fetch_at for r in store.records(job)] == [5.0, 5.0, None]

    assert store.make_due(job, 7.0) == 3
    assert [r.next_fetch_at for r in store.records(job)] == [7.0, 7.0, 7.0]
    assert [r.next_fetch_at for r in store.records(other_job)] == [None]
    assert store.make_due(job + "-none", 7.0) == 0


def test_mark_fed_unschedules_the_urls_handed_on_but_not_one_rescheduled_meanwhile(store):
    job, other_job = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    for path, at in (("a", 10.0), ("b", 20.0), ("c", 30.0)):
        store.put(_scheduled(job, path, at))
    store.put(_scheduled(job, "a", 10.0, kind="sitemap"))
    store.put(_scheduled(other_job, "a", 10.0))
    store.put(_scheduled(job, "b", 100.0, seconds=5))  # b revisited since it was handed on

    store.mark_fed(job, [("http://a.example/a", "page"), ("http://a.example/b", "page")], 40.0)
    store.mark_fed(job, [], 40.0)

    assert [(r.url.rsplit("/", 1)[1], r.kind, r.next_fetch_at) for r in store.records(job)] == [
        ("a", "page", None), ("b", "page", 100.0), ("c", "page", 30.0), ("a", "sitemap", 10.0),
    ]
    assert [r.next_fetch_at for r in store.records(other_job)] == [10.0]


def test_due_counts_counts_the_due_and_the_later_urls_and_says_when_the_next_is(store):
    job = f"t-{uuid.uuid4().hex[:8]}"
    for path, at in (("a", 10.0), ("b", 20.0), ("c", 50.0), ("d", 70.5), ("once", None)):
        store.put(_scheduled(job, path, at))

    assert store.due_counts(job, 20.0) == DueCounts(due=2, later=2, next_at=50.0)
    assert store.due_counts(job, 0.0) == DueCounts(due=0, later=4, next_at=10.0)
    assert store.due_counts(job, 70.5) == DueCounts(due=4, later=0, next_at=None)
    assert store.due_counts(job + "-none", 0.0) == DueCounts(due=0, later=0, next_at=None)
