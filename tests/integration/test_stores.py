"""Every store backend keeps the same contract, checked against the real thing: SQLite
on disk and the PostgreSQL server (CRAWLER_TEST_POSTGRES_URL, database `test`)."""

from __future__ import annotations

import dataclasses
import os
import threading
import uuid

import psycopg
import pytest

from pipeline.store import Record, open_store

POSTGRES_URL = os.environ.get("CRAWLER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def _record(job: str, url: str, title: str, outlinks: list[str]) -> Record:
    return Record(job=job, url=url, final_url=url, status=200, depth=1, content_type="text/html", title=title,
                  outlinks=outlinks, fetched_at="2026-11-22T00:00:00Z", error=None, redirects=[url + "?r"])


@pytest.fixture(params=["sqlite", "postgresql"])
def store(request, tmp_path):
    if request.param == "sqlite":
        opened = open_store(f"sqlite:///{tmp_path / 'crawl.db'}")
        yield opened
        opened.close()
        return
    try:
        psycopg.connect(POSTGRES_URL, connect_timeout=5).close()
    except psycopg.Error as exc:
        pytest.fail(f"the store tests need PostgreSQL at {POSTGRES_URL}: {exc}")
    opened = open_store(POSTGRES_URL)
    yield opened
    opened.close()


def test_a_url_stored_twice_leaves_one_record_with_the_latest_values(store):
    job = f"t-{uuid.uuid4().hex[:8]}"
    store.put(_record(job, "http://a.example/1", "first", ["http://a.example/2"]))
    store.put(_record(job, "http://a.example/2", "other", []))
    store.put(_record(job, "http://a.example/1", "second", ["http://a.example/3", "http://a.example/4"]))

    records = list(store.records(job))
    assert [r.url for r in records] == ["http://a.example/1", "http://a.example/2"]
    assert records[0].title == "second" and records[0].outlinks == ["http://a.example/3", "http://a.example/4"]
    assert records[0].redirects == ["http://a.example/1?r"]
    assert store.count(job) == 2 and store.count(job + "-none") == 0


def test_an_older_fetch_stored_late_does_not_replace_a_newer_one(store):
    """A chain redelivered after its lease expired stores its old result after the new one."""
    job = f"t-{uuid.uuid4().hex[:8]}"
    newer = dataclasses.replace(_record(job, "http://a.example/1", "newer", []), fetched_at="2026-12-01T10:00:00.456Z")
    older = dataclasses.replace(newer, title="older", status=503, fetched_at="2026-12-01T10:00:00.123Z")

    store.put(newer)
    store.put(older)

    assert list(store.records(job)) == [newer]


def test_a_fetch_as_recent_as_the_stored_one_replaces_it(store):
    """The same chain delivered twice writes the same values again, and a later put wins a tie."""
    job = f"t-{uuid.uuid4().hex[:8]}"
    first = _record(job, "http://a.example/1", "first", [])
    store.put(first)
    store.put(dataclasses.replace(first, title="again"))

    assert [r.title for r in store.records(job)] == ["again"]


def test_concurrent_writers_from_many_threads_lose_nothing(store):
    job = f"t-{uuid.uuid4().hex[:8]}"

    def write(offset: int) -> None:
        for i in range(50):
            store.put(_record(job, f"http://a.example/{(offset + i) % 120}", f"t{offset}", []))

    threads = [threading.Thread(target=write, args=(n * 30,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert store.count(job) == len({(n * 30 + i) % 120 for n in range(4) for i in range(50)})


def test_an_unreachable_postgres_is_a_clear_error():
    from pipeline.errors import ConfigError

    with pytest.raises(ConfigError) as info:
        open_store("postgresql://postgres@127.0.0.1:1/test")
    assert "cannot open PostgreSQL store" in str(info.value)
