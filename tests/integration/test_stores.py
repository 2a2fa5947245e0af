"""Every store backend keeps the same contract, checked against the real thing: SQLite
on disk and the PostgreSQL server (CRAWLER_TEST_POSTGRES_URL, database `test`)."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import uuid
from urllib.parse import urlsplit, urlunsplit

import pytest

from pipeline.errors import ConfigError, CrawlError, StoreUnavailable
from pipeline.settings import Settings
from pipeline.store import open_store
from pipeline.store.base import Item
from tests.integration.stores import POSTGRES_URL, a_page, later
from tests.integration.tcp_proxy import TcpProxy


def test_a_url_stored_twice_leaves_one_record_with_the_latest_values(store):
    job = f"t-{uuid.uuid4().hex[:8]}"
    store.put(a_page(job, "http://a.example/1", "first", ["http://a.example/2"]))
    store.put(a_page(job, "http://a.example/2", "other", []))
    store.put(a_page(job, "http://a.example/1", "second", ["http://a.example/3", "http://a.example/4"]))

    records = list(store.records(job))
    assert [r.url for r in records] == ["http://a.example/1", "http://a.example/2"]
    assert records[0].title == "second" and records[0].outlinks == ["http://a.example/3", "http://a.example/4"]
    assert records[0].redirects == ["http://a.example/1?r"]
    assert store.count(job) == 2 and store.count(job + "-none") == 0


def test_an_older_fetch_stored_late_does_not_replace_a_newer_one(store):
    """A chain redelivered after its lease expired stores its old result after the new one."""
    job = f"t-{uuid.uuid4().hex[:8]}"
    newer = dataclasses.replace(a_page(job, "http://a.example/1", "newer", []), fetched_at="2026-12-01T10:00:00.456Z")
    older = dataclasses.replace(newer, title="older", status=503, fetched_at="2026-12-01T10:00:00.123Z")

    store.put(newer)
    store.put(older)

    assert list(store.records(job)) == [newer]


def test_a_fetch_as_recent_as_the_stored_one_replaces_it(store):
    """The same chain delivered twice writes the same values again, and a later put wins a tie."""
    job = f"t-{uuid.uuid4().hex[:8]}"
    first = a_page(job, "http://a.example/1", "first", [])
    store.put(first)
    store.put(dataclasses.replace(first, title="again"))

    assert [r.title for r in store.records(job)] == ["again"]


def test_a_sitemap_and_the_page_at_its_url_keep_a_record_each(store):
    job = f"t-{uuid.uuid4().hex[:8]}"
    url = "http://a.example/sitemap.xml"
    page = a_page(job, url, "linked from a footer", [])
    sitemap = dataclasses.replace(page, kind="sitemap", title=None, outlinks=["http://a.example/listed"])

    store.put(page)
    store.put(sitemap)

    assert list(store.records(job)) == [page, sitemap]
    assert store.count(job) == 2


def test_concurrent_writers_from_many_threads_lose_nothing(store):
    job = f"t-{uuid.uuid4().hex[:8]}"

    def write(offset: int) -> None:
        for i in range(50):
            store.put(a_page(job, f"http://a.example/{(offset + i) % 120}", f"t{offset}", []))

    threads = [threading.Thread(target=write, args=(n * 30,)) for n in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert store.count(job) == len({(n * 30 + i) % 120 for n in range(4) for i in range(50)})


# --- items: a page's, replaced with its record ----------------------------------------


def test_items_are_read_back_page_by_page_in_first_stored_order_each_in_the_order_given(store):
    job = f"t-{uuid.uuid4().hex[:8]}"
    second, first = a_page(job, "http://a.example/b", "b", []), a_page(job, "http://a.example/a", "a", [])
    store.put(second, [Item("text", {"text": "b0"}), Item("mod:products", {"sku": 2, "tags": ["x", "é"]})])
    store.put(first, [Item("text", {"text": "a0"})])
    store.put(a_page(job, "http://a.example/none", "no items", []))
    store.put(later(second, 1), [Item("mod:products", {"n": n}) for n in (3, 1, 2)])

    assert list(store.items(job)) == [
        ("http://a.example/b", Item("mod:products", {"n": 3})),
        ("http://a.example/b", Item("mod:products", {"n": 1})),
        ("http://a.example/b", Item("mod:products", {"n": 2})),
        ("http://a.example/a", Item("text", {"text": "a0"})),
    ]
    assert list(store.items(job + "-none")) == []


def test_a_later_fetch_replaces_the_items_of_the_page_and_the_removed_ones_are_gone(store):
    """At-least-once delivery: the same page stored again, by a redelivery or a new fetch,
    leaves one set of items."""
    job = f"t-{uuid.uuid4().hex[:8]}"
    page = a_page(job, "http://a.example/1", "first", [])
    store.put(page, [Item("text", {"n": 1}), Item("text", {"n": 2}), Item("text", {"n": 3})])
    store.put(page, [Item("text", {"n": 1}), Item("text", {"n": 2}), Item("text", {"n": 3})])
    assert [item.data["n"] for _, item in store.items(job)] == [1, 2, 3]

    again = later(page, 5, title="again", extract_error="ValueError: no price")
    store.put(again, [Item("metadata", {"n": 9})])

    assert list(store.records(job)) == [dataclasses.replace(again, fetch_count=2)]
    assert list(store.items(job)) == [("http://a.example/1", Item("metadata", {"n": 9}))]


def test_the_fetch_history_of_a_url_is_carried_from_fetch_to_fetch(store):
    job = f"t-{uuid.uuid4().hex[:8]}"
    first = dataclasses.replace(
        a_page(job, "http://a.example/h", "v1", []), content_hash="aaa", etag='"1"',
        last_modified="Sun, 22 Nov 2026 00:00:00 GMT", first_fetched_at="2026-11-22T00:00:00Z",
        changed_at="2026-11-22T00:00:00Z",
    )
    store.put(first)
    (stored,) = store.records(job)
    assert (stored.fetch_count, stored.revisit, stored.etag) == (1, None, '"1"')

    same = later(first, 10, first_fetched_at="2026-11-22T00:00:10Z", changed_at="2026-11-22T00:00:10Z")
    store.put(same)
    store.put(dataclasses.replace(same, depth=0))  # the same fetch written again: no new fetch
    (stored,) = store.records(job)
    assert (stored.fetch_count, stored.revisit, stored.depth) == (2, "unchanged", 0)
    assert (stored.first_fetched_at, stored.changed_at) == ("2026-11-22T00:00:00Z", "2026-11-22T00:00:00Z")

    changed = later(first, 20, content_hash="bbb", etag='"2"', first_fetched_at="x", changed_at="2026-11-22T00:00:20Z")
    store.put(changed)
    store.put(later(first, 15, content_hash="ccc"))  # an older fetch stored late changes nothing
    (stored,) = store.records(job)
    assert (stored.fetch_count, stored.revisit, stored.etag, stored.content_hash) == (3, "changed", '"2"', "bbb")
    assert (stored.first_fetched_at, stored.changed_at) == ("2026-11-22T00:00:00Z", "2026-11-22T00:00:20Z")

    failed = later(first, 30, content_hash=None, status=503, error="HTTP 503", changed_at=None)
    store.put(failed)
    (stored,) = store.records(job)
    assert (stored.fetch_count, stored.revisit, stored.changed_at) == (4, None, "2026-11-22T00:00:20Z")


def test_an_older_fetch_stored_late_changes_neither_the_record_nor_the_items(store):
    job = f"t-{uuid.uuid4().hex[:8]}"
    newer = later(a_page(job, "http://a.example/1", "newer", []), 30)
    store.put(newer, [Item("text", {"text": "newer"})])

    store.put(later(newer, 10, title="older"), [Item("text", {"text": "older"}), Item("text", {"text": "more"})])
    store.put(later(newer, 10, title="older, none"), [])

    assert list(store.records(job)) == [newer]
    assert list(store.items(job)) == [("http://a.example/1", Item("text", {"text": "newer"}))]


def test_no_items_keeps_those_stored_and_an_empty_list_removes_them(store):
    """A record rewritten only to lower its depth has no items to give: it keeps the page's."""
    job = f"t-{uuid.uuid4().hex[:8]}"
    page = a_page(job, "http://a.example/1", "page", [])
    store.put(page, [Item("text", {"text": "kept"})])

    store.put(dataclasses.replace(page, depth=0))
    assert [r.depth for r in store.records(job)] == [0]
    assert list(store.items(job)) == [("http://a.example/1", Item("text", {"text": "kept"}))]

    store.put(later(page, 1), [])
    assert list(store.items(job)) == []
    assert store.count(job) == 1


def test_replacing_the_items_of_a_page_leaves_those_of_every_other_page_alone(store):
    job, other_job = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    url = "http://a.example/sitemap.xml"
    page = a_page(job, url, "page", [])
    neighbours = [
        (dataclasses.replace(page, job=other_job), Item("text", {"of": "other job"})),
        (dataclasses.replace(page, url="http://a.example/other"), Item("text", {"of": "other url"})),
        (dataclasses.replace(page, kind="sitemap"), Item("text", {"of": "other kind"})),
    ]
    store.put(page, [Item("text", {"of": "page"})])
    for record, item in neighbours:
        store.put(record, [item])

    store.put(later(page, 1), [Item("text", {"of": "page, again"})])
    store.put(later(neighbours[1][0], 1), [])

    assert list(store.items(job)) == [
        (url, Item("text", {"of": "page, again"})),
        (url, Item("text", {"of": "other kind"})),
    ]
    assert list(store.items(other_job)) == [(url, Item("text", {"of": "other job"}))]


def test_threads_storing_the_same_pages_at_once_leave_each_page_the_items_of_one_put(store):
    """Redelivered chains may store a page while its first delivery does: the record and
    items left are one put's, the whole list, never a mix of two or a duplicate."""
    job = f"t-{uuid.uuid4().hex[:8]}"

    def write(writer: int) -> None:
        for n in range(20):
            page = a_page(job, f"http://a.example/{n}", f"by {writer}", [])
            store.put(page, [Item("text", {"by": writer, "seq": seq}) for seq in range(writer + 1)])

    threads = [threading.Thread(target=write, args=(writer,)) for writer in range(4)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    pages: dict[str, list[dict[str, int]]] = {}
    for url, item in store.items(job):
        pages.setdefault(url, []).append(item.data)
    titles = {record.url: record.title for record in store.records(job)}
    assert len(pages) == 20
    for url, data in pages.items():
        writer = data[0]["by"]
        assert data == [{"by": writer, "seq": seq} for seq in range(writer + 1)]
        assert titles[url] == f"by {writer}"


def test_an_extract_error_is_kept_with_the_record(store):
    job = f"t-{uuid.uuid4().hex[:8]}"
    page = dataclasses.replace(a_page(job, "http://a.example/1", "page", []), extract_error="mod:products: KeyError")
    store.put(page, [])

    assert list(store.records(job)) == [page]


def test_an_unreachable_postgres_is_a_clear_error_worth_retrying():
    """Nothing listening may be a server restarting as a worker starts: the store task
    waits for it rather than failing the URL."""
    with pytest.raises(StoreUnavailable) as info:
        open_store("postgresql://postgres@127.0.0.1:1/test")
    assert "cannot open PostgreSQL store" in str(info.value) and "\n" not in str(info.value)


# --- outages: transient, not fatal ----------------------------------------------------


@pytest.fixture
def postgres_proxy():
    """PostgreSQL behind a TCP forwarder the test can cut: the shared server keeps running."""
    parts = urlsplit(POSTGRES_URL)
    proxy = TcpProxy((parts.hostname or "127.0.0.1", parts.port or 5432))
    yield proxy
    proxy.stop()


def test_a_postgres_outage_is_store_unavailable_and_the_write_goes_through_once_it_is_back(postgres_proxy):
    job = f"t-{uuid.uuid4().hex[:8]}"
    store = open_store(postgres_proxy.url(POSTGRES_URL), timeout=2)
    try:
        store.put(a_page(job, "http://a.example/1", "before", []))

        postgres_proxy.cut()
        with pytest.raises(StoreUnavailable):
            store.put(a_page(job, "http://a.example/2", "during", []))
        with pytest.raises(StoreUnavailable):
            store.count(job)

        postgres_proxy.restore()
        store.put(a_page(job, "http://a.example/2", "after", []))
        assert [r.title for r in store.records(job)] == ["before", "after"]
    finally:
        store.close()


def test_a_thread_that_first_connects_during_an_outage_gets_store_unavailable(postgres_proxy):
    """Each worker thread opens its own connection: one opened while the server is away
    must be retried later, not taken for a bad setting."""
    job = f"t-{uuid.uuid4().hex[:8]}"
    store = open_store(postgres_proxy.url(POSTGRES_URL), timeout=2)
    raised: list[CrawlError] = []

    def write() -> None:
        try:
            store.put(a_page(job, "http://a.example/1", "during", []))
        except CrawlError as exc:
            raised.append(exc)

    postgres_proxy.cut()
    thread = threading.Thread(target=write)
    thread.start()
    thread.join()
    postgres_proxy.restore()
    store.close()

    assert [type(exc) for exc in raised] == [StoreUnavailable]


@pytest.mark.parametrize("change", [{"path": "/test_store_does_not_exist"}, {"user": "test_store_nobody"}])
def test_a_server_that_turns_the_store_url_down_is_a_one_line_config_error(change):
    """A missing database or role cannot be fixed by waiting: the user must change the URL."""
    parts = urlsplit(POSTGRES_URL)
    user = change.get("user", parts.username or "postgres")
    netloc = f"{user}@{parts.hostname}:{parts.port or 5432}"
    url = urlunsplit(parts._replace(netloc=netloc, path=change.get("path", parts.path)))

    with pytest.raises(ConfigError) as info:
        open_store(url)

    assert "cannot open PostgreSQL store" in str(info.value) and "\n" not in str(info.value)


def test_a_locked_sqlite_database_is_store_unavailable_until_it_is_released(tmp_path):
    path = tmp_path / "crawl.db"
    store = open_store(f"sqlite:///{path}", timeout=0.2)
    other = sqlite3.connect(path, isolation_level=None)
    try:
        other.execute("BEGIN EXCLUSIVE")
        with pytest.raises(StoreUnavailable) as info:
            store.put(a_page("job", "http://a.example/1", "while locked", []))
        assert "CRAWLER_STORE_TIMEOUT" in str(info.value)

        other.execute("COMMIT")
        store.put(a_page("job", "http://a.example/1", "released", []))
        assert [r.title for r in store.records("job")] == ["released"]
    finally:
        other.close()
        store.close()


def test_the_store_timeout_is_a_setting_with_a_safe_default(monkeypatch, tmp_path):
    assert Settings.load({}).store_timeout == 10.0
    monkeypatch.setenv("CRAWLER_STORE_TIMEOUT", "0.25")
    store = open_store(f"sqlite:///{tmp_path / 'crawl.db'}")
    try:
        assert store.timeout == 0.25
    finally:
        store.close()
    with pytest.raises(ConfigError):
        Settings.load({"CRAWLER_STORE_TIMEOUT": "0"})


def test_forget_removes_every_record_and_item_of_the_job_and_nothing_of_another(store):
    job, other = f"t-{uuid.uuid4().hex[:8]}", f"t-{uuid.uuid4().hex[:8]}"
    for name in (job, other):
        store.put(a_page(name, "http://a.example/a", "a", []), [Item("text", {"text": "a"})])
        store.put(a_page(name, "http://a.example/b", "b", []))

    assert store.forget(job) == 2

    assert (store.count(job), list(store.items(job))) == (0, [])
    assert store.count(other) == 2 and list(store.items(other)) == [("http://a.example/a", Item("text", {"text": "a"}))]
    store.put(a_page(job, "http://a.example/a", "again", []))
    assert [record.title for record in store.records(job)] == ["again"]


def test_pages_reads_the_page_records_at_the_urls_asked_for(store):
    job = f"t-{uuid.uuid4().hex[:8]}"
    for url in ("http://a.example/a", "http://a.example/b", "http://a.example/c"):
        store.put(a_page(job, url, url[-1], []))
    store.put(dataclasses.replace(a_page(job, "http://a.example/a", "sitemap", []), kind="sitemap"))

    found = store.pages(job, ["http://a.example/a", "http://a.example/c", "http://a.example/none"])

    assert sorted((record.url, record.title) for record in found) == [("http://a.example/a", "a"),
                                                                      ("http://a.example/c", "c")]
    assert store.pages(job, []) == [] and store.pages(job + "-other", ["http://a.example/a"]) == []
