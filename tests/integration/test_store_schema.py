"""Stores made by an older crawler open, keep their rows and take new records: the
schema comes from Record, and opening a store brings its table up to date, once, however
many processes open it at the same moment. Real SQLite files and a PostgreSQL schema of
their own per test (in CRAWLER_TEST_POSTGRES_URL's database)."""

from __future__ import annotations

import dataclasses
import sqlite3
import threading
import uuid
from collections.abc import Callable, Iterator
from pathlib import Path

import psycopg
import pytest

from pipeline.errors import ConfigError, CrawlError
from pipeline.fetch import WarcPointer
from pipeline.store import Record, Store, open_store
from pipeline.store.base import Item
from pipeline.store.schema import (
    COLUMNS,
    POSTGRES,
    SCHEMA_VERSION,
    SQLITE,
    create_items_table,
    create_table,
)
from tests.integration.old_stores import (
    ITEM_COLUMNS,
    LATER_COLUMNS,
    LEGACY_COLUMNS,
    LEGACY_POSTGRES,
    LEGACY_ROWS,
    LEGACY_SQLITE,
    REVISIT_COLUMNS,
    SCHEMA_3_COLUMNS,
    SCHEMA_3_POSTGRES,
    SCHEMA_3_ROWS,
    SCHEMA_3_SQLITE,
    SCHEMA_5_COLUMNS,
    SCHEMA_5_POSTGRES,
    SCHEMA_5_ROWS,
    SCHEMA_5_SQLITE,
)
from tests.integration.stores import POSTGRES_URL


class Legacy:
    """One old store, in SQLite or PostgreSQL: its URL, and SQL run on it directly."""

    def __init__(self, url: str, execute: Callable[[str], list[tuple]]) -> None:
        self.url = url
        self.execute = execute


@pytest.fixture
def sqlite_store(tmp_path: Path) -> Iterator[Legacy]:
    path = tmp_path / "crawl.db"

    def execute(statement: str) -> list[tuple]:
        with sqlite3.connect(path) as conn:
            return conn.execute(statement).fetchall()

    yield Legacy(f"sqlite:///{path}", execute)


@pytest.fixture
def postgresql_store() -> Iterator[Legacy]:
    """A schema of its own, first on the search_path of the store's URL, dropped after."""
    schema = f"test_store_{uuid.uuid4().hex[:8]}"
    admin = psycopg.connect(POSTGRES_URL, autocommit=True)
    admin.execute(f"CREATE SCHEMA {schema}")
    url = f"{POSTGRES_URL}{'&' if '?' in POSTGRES_URL else '?'}options=-csearch_path%3D{schema}"

    def execute(statement: str) -> list[tuple]:
        with psycopg.connect(url, autocommit=True) as conn:
            cursor = conn.execute(statement)
            return cursor.fetchall() if cursor.description else []

    try:
        yield Legacy(url, execute)
    finally:
        admin.execute(f"DROP SCHEMA {schema} CASCADE")
        admin.close()


@pytest.fixture(params=["sqlite", "postgresql"])
def legacy(request: pytest.FixtureRequest) -> Legacy:
    """A store made by the first release's exact DDL, with LEGACY_ROWS in it."""
    old: Legacy = request.getfixturevalue(f"{request.param}_store")
    old.execute(LEGACY_SQLITE if request.param == "sqlite" else LEGACY_POSTGRES)
    _insert(old, LEGACY_COLUMNS, LEGACY_ROWS)
    return old


@pytest.fixture(params=["sqlite", "postgresql"])
def schema_3(request: pytest.FixtureRequest) -> Legacy:
    """A store of schema 3, the last before items, with SCHEMA_3_ROWS in it."""
    old: Legacy = request.getfixturevalue(f"{request.param}_store")
    if request.param == "sqlite":
        old.execute(SCHEMA_3_SQLITE)
        old.execute("PRAGMA user_version = 3")
    else:
        old.execute(SCHEMA_3_POSTGRES)
        old.execute("COMMENT ON TABLE pages IS 'celery-crawler schema 3'")
    _insert(old, SCHEMA_3_COLUMNS, SCHEMA_3_ROWS)
    return old


@pytest.fixture(params=["sqlite", "postgresql"])
def schema_5(request: pytest.FixtureRequest) -> Legacy:
    """A store of schema 5, the last before revisits, with SCHEMA_5_ROWS and an item in it."""
    old: Legacy = request.getfixturevalue(f"{request.param}_store")
    if request.param == "sqlite":
        for table in SCHEMA_5_SQLITE:
            old.execute(table)
        old.execute("PRAGMA user_version = 5")
    else:
        for table in SCHEMA_5_POSTGRES:
            old.execute(table)
        old.execute("COMMENT ON TABLE pages IS 'celery-crawler schema 5'")
    _insert(old, SCHEMA_5_COLUMNS, SCHEMA_5_ROWS)
    old.execute(f"INSERT INTO items ({', '.join(ITEM_COLUMNS)})"
                """ VALUES ('old', 'http://a.example/2', 'page', 'text', 0, '{"text": "two"}')""")
    return old


def _insert(old: Legacy, columns: str, rows: list[tuple]) -> None:
    for row in rows:
        values = ", ".join("NULL" if value is None else repr(value) for value in row)
        old.execute(f"INSERT INTO pages ({columns}) VALUES ({values})")


def _columns(old: Legacy, table: str) -> list[str]:
    if old.url.startswith("sqlite"):
        return [row[1] for row in old.execute(f"PRAGMA table_info({table})")]
    return [row[0] for row in old.execute(
        "SELECT column_name FROM information_schema.columns"
        f" WHERE table_schema = current_schema() AND table_name = '{table}' ORDER BY ordinal_position"
    )]


def _due_index(old: Legacy) -> str | None:
    """The definition of the pages_due index, None while the table has none."""
    if old.url.startswith("sqlite"):
        rows = old.execute("SELECT sql FROM sqlite_master WHERE type = 'index' AND name = 'pages_due'")
    else:
        rows = old.execute("SELECT indexdef FROM pg_indexes WHERE schemaname = current_schema()"
                           " AND tablename = 'pages' AND indexname = 'pages_due'")
    return rows[0][0] if rows else None


def _has_revisits(old: Legacy) -> bool:
    """The table has the revisit columns, last but for the later schemas' own, and the
    partial index of due URLs."""
    index = _due_index(old) or ""
    columns = _columns(old, "pages")
    expected = REVISIT_COLUMNS + LATER_COLUMNS
    return columns[-len(expected):] == expected and all(
        part in index for part in ("(job, next_fetch_at)", "next_fetch_at IS NOT NULL")
    )


def _record(url: str, **changes: object) -> Record:
    return dataclasses.replace(
        Record(job="old", url=url, final_url=url, status=200, depth=2, content_type="text/html", title="new",
               outlinks=[], fetched_at="2026-12-01T10:00:00.000Z", error=None),
        **changes,
    )


def _opened(url: str) -> Store:
    return open_store(url, timeout=5)


def test_a_store_of_the_first_release_opens_with_its_rows_and_takes_new_records(legacy):
    store = _opened(legacy.url)
    try:
        old = list(store.records("old"))
        assert [(r.url, r.kind, r.title, r.outlinks, r.redirects, r.error) for r in old] == [
            ("http://a.example/2", "page", "two", ["http://a.example/1"], ["http://a.example/r"], None),
            ("http://a.example/1", "page", None, [], [], "timeout"),
            ("http://a.example/sitemap.xml", "sitemap", None, ["http://a.example/2"], [], None),
        ]
        store.put(_record("http://a.example/3"))
        store.put(_record("http://a.example/1", title="fetched again"))
        store.put(_record("http://a.example/sitemap.xml", title="the page at the sitemap's URL"))
        assert [(r.url.rsplit("/", 1)[1], r.kind, r.title) for r in store.records("old")] == [
            ("2", "page", "two"),
            ("1", "page", "fetched again"),
            ("sitemap.xml", "sitemap", None),
            ("3", "page", "new"),
            ("sitemap.xml", "page", "the page at the sitemap's URL"),
        ]
    finally:
        store.close()


def test_a_store_of_the_first_release_gains_the_revisit_columns_and_the_due_index(legacy):
    assert _due_index(legacy) is None

    store = _opened(legacy.url)
    try:
        assert _has_revisits(legacy)
        assert [(r.next_fetch_at, r.revisit_interval, r.warc) for r in store.records("old")] == [
            (None, None, None)
        ] * 3
        store.put(_record("http://a.example/1", next_fetch_at=5.0))
        assert [r.url for r in store.due("old", 5.0, 10)] == ["http://a.example/1"]
    finally:
        store.close()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_new_store_has_the_revisit_columns_and_the_due_index(request, dialect):
    new: Legacy = request.getfixturevalue(f"{dialect}_store")
    _opened(new.url).close()

    assert _has_revisits(new)


def test_opening_records_the_schema_version_so_the_next_open_has_nothing_to_do(legacy):
    _opened(legacy.url).close()

    if legacy.url.startswith("sqlite"):
        assert legacy.execute("PRAGMA user_version") == [(SCHEMA_VERSION,)]
    else:
        assert legacy.execute("SELECT obj_description('pages'::regclass, 'pg_class')") == [
            (f"celery-crawler schema {SCHEMA_VERSION}",)
        ]
    _opened(legacy.url).close()


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_column_the_table_lacks_is_added_with_its_default(request, dialect):
    """What a future field of Record looks like to a store made before it."""
    old: Legacy = request.getfixturevalue(f"{dialect}_store")
    old.execute(create_table(SQLITE if dialect == "sqlite" else POSTGRES))
    old.execute("ALTER TABLE pages DROP COLUMN redirects")
    old.execute("INSERT INTO pages (job, url, final_url, depth, outlinks, fetched_at) "
                "VALUES ('old', 'http://a.example/', 'http://a.example/', 0, '[]', '2026-11-01T10:00:00Z')")

    store = _opened(old.url)
    try:
        assert [r.redirects for r in store.records("old")] == [[]]
        store.put(_record("http://a.example/next", redirects=["http://a.example/r"]))
        assert [r.redirects for r in store.records("old")] == [[], ["http://a.example/r"]]
    finally:
        store.close()


def test_a_store_of_a_newer_crawler_is_refused_with_a_one_line_error(legacy):
    if legacy.url.startswith("sqlite"):
        legacy.execute(f"PRAGMA user_version = {SCHEMA_VERSION + 1}")
    else:
        legacy.execute(f"COMMENT ON TABLE pages IS 'celery-crawler schema {SCHEMA_VERSION + 1}'")

    with pytest.raises(ConfigError) as info:
        _opened(legacy.url)

    assert "newer" in str(info.value) and "\n" not in str(info.value)


def _open_at_once(url: str, opening: int = 6) -> list[Exception]:
    """What `opening` workers opening the store at the same moment failed with."""
    start = threading.Barrier(opening)
    failures: list[Exception] = []

    def open_it() -> None:
        start.wait()
        try:
            _opened(url).close()
        except (CrawlError, psycopg.Error, sqlite3.Error) as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(opening)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()
    return failures


def _takes_items(store: Store) -> None:
    page = _record("http://a.example/with-items")
    store.put(page, [Item("text", {"text": "one"}), Item("mod:x", {"n": 2})])
    store.put(dataclasses.replace(page, fetched_at="2026-12-01T10:00:01.000Z"), [Item("mod:x", {"n": 3})])
    assert list(store.items("old")) == [("http://a.example/with-items", Item("mod:x", {"n": 3}))]


def test_workers_opening_an_old_store_at_the_same_moment_all_succeed_and_keep_every_row(legacy):
    assert _open_at_once(legacy.url) == []
    store = _opened(legacy.url)
    try:
        assert [(r.url, r.kind) for r in store.records("old")] == [
            ("http://a.example/2", "page"), ("http://a.example/1", "page"), ("http://a.example/sitemap.xml", "sitemap"),
        ]
        _takes_items(store)
    finally:
        store.close()


def test_workers_opening_a_schema_3_store_at_the_same_moment_add_the_items_table_once(schema_3):
    assert _open_at_once(schema_3.url) == []
    assert _columns(schema_3, "items") == ITEM_COLUMNS
    store = _opened(schema_3.url)
    try:
        assert [(r.url, r.kind, r.extract_error) for r in store.records("old")] == [
            ("http://a.example/sitemap.xml", "sitemap", None),
            ("http://a.example/2", "page", None),
            ("http://a.example/sitemap.xml", "page", None),
        ]
        _takes_items(store)
    finally:
        store.close()


def test_a_store_of_schema_3_gains_extract_error_and_the_items_table_and_keeps_its_rows(schema_3):
    assert "extract_error" not in _columns(schema_3, "pages") and _columns(schema_3, "items") == []

    store = _opened(schema_3.url)
    try:
        assert {"extract_error", "fetch_count", "revisit"} <= set(_columns(schema_3, "pages"))
        assert _has_revisits(schema_3)
        assert _columns(schema_3, "items") == ITEM_COLUMNS
        old = list(store.records("old"))
        assert [(r.url, r.kind, r.title, r.outlinks, r.warc, r.extract_error) for r in old] == [
            ("http://a.example/sitemap.xml", "sitemap", None, ["http://a.example/2"], None, None),
            ("http://a.example/2", "page", "two", [], WarcPointer("crawl-1.warc.gz", 0, 512), None),
            ("http://a.example/sitemap.xml", "page", "map", [], None, None),
        ]
        assert list(store.items("old")) == []

        again = _record("http://a.example/2", extract_error="mod:x: KeyError 'price'")
        store.put(again, [Item("text", {"text": "two"})])
        store.put(_record("http://a.example/sitemap.xml", kind="sitemap"), [Item("mod:x", {"listed": 1})])
        assert [(r.url, r.kind, r.extract_error) for r in store.records("old")] == [
            ("http://a.example/sitemap.xml", "sitemap", None),
            ("http://a.example/2", "page", "mod:x: KeyError 'price'"),
            ("http://a.example/sitemap.xml", "page", None),
        ]
        assert list(store.items("old")) == [
            ("http://a.example/sitemap.xml", Item("mod:x", {"listed": 1})),
            ("http://a.example/2", Item("text", {"text": "two"})),
        ]
    finally:
        store.close()
    if schema_3.url.startswith("sqlite"):
        assert schema_3.execute("PRAGMA user_version") == [(SCHEMA_VERSION,)]
    else:
        assert schema_3.execute("SELECT obj_description('pages'::regclass, 'pg_class')") == [
            (f"celery-crawler schema {SCHEMA_VERSION}",)
        ]


def test_a_store_of_schema_5_gains_the_revisit_columns_and_the_due_index_and_keeps_its_rows(schema_5):
    assert "next_fetch_at" not in _columns(schema_5, "pages") and _due_index(schema_5) is None

    store = _opened(schema_5.url)
    try:
        assert _has_revisits(schema_5)
        assert [(r.url, r.kind, r.warc, r.etag, r.fetch_count, r.revisit, r.next_fetch_at)
                for r in store.records("old")] == [
            ("http://a.example/2", "page", WarcPointer("crawl-1.warc.gz", 0, 512), '"1"', 2, "unchanged", None),
            ("http://a.example/sitemap.xml", "sitemap", None, None, 1, None, None),
        ]
        assert list(store.items("old")) == [("http://a.example/2", Item("text", {"text": "two"}))]

        assert store.make_due("old", 5.0) == 2
        assert [(r.url, r.kind) for r in store.due("old", 5.0, 10)] == [
            ("http://a.example/2", "page"), ("http://a.example/sitemap.xml", "sitemap"),
        ]
        answer = WarcPointer("crawl-9.warc.gz", 0, 9, "<urn:uuid:r>")
        store.put(_record("http://a.example/2", status=304, title=None, warc=answer))
        page, _ = store.records("old")
        assert (page.status, page.title, page.warc) == (200, "two", WarcPointer("crawl-1.warc.gz", 0, 512))
        assert page.fetch_count == 3
    finally:
        store.close()
    if schema_5.url.startswith("sqlite"):
        assert schema_5.execute("PRAGMA user_version") == [(SCHEMA_VERSION,)]
    else:
        assert schema_5.execute("SELECT obj_description('pages'::regclass, 'pg_class')") == [
            (f"celery-crawler schema {SCHEMA_VERSION}",)
        ]


@pytest.mark.parametrize("dialect", ["sqlite", "postgresql"])
def test_a_put_the_database_refuses_halfway_changes_neither_the_record_nor_the_items(request, dialect):
    """The record, the old items' removal and the new items are one transaction: a put that
    fails after the first of them leaves the page as the last good put left it."""
    old: Legacy = request.getfixturevalue(f"{dialect}_store")
    store = _opened(old.url)
    try:
        page = _record("http://a.example/1")
        store.put(page, [Item("text", {"text": "good"})])
        if dialect == "sqlite":
            old.execute("CREATE TRIGGER refuse BEFORE INSERT ON items WHEN NEW.extractor = 'refused'"
                        " BEGIN SELECT RAISE(ABORT, 'refused'); END")
        else:
            old.execute("CREATE FUNCTION refuse() RETURNS trigger LANGUAGE plpgsql AS $$ BEGIN"
                        " IF NEW.extractor = 'refused' THEN RAISE EXCEPTION 'refused'; END IF; RETURN NEW; END $$")
            old.execute("CREATE TRIGGER refuse BEFORE INSERT ON items FOR EACH ROW EXECUTE FUNCTION refuse()")

        later = dataclasses.replace(page, title="refused", fetched_at="2026-12-01T10:00:01.000Z")
        with pytest.raises((sqlite3.Error, psycopg.Error), match="refused"):
            store.put(later, [Item("text", {"text": "new"}), Item("refused", {})])

        assert list(store.records("old")) == [page]
        assert list(store.items("old")) == [("http://a.example/1", Item("text", {"text": "good"}))]
    finally:
        store.close()


def test_both_dialects_define_every_field_of_record_and_nothing_else():
    names = tuple(_record("http://a.example/").to_json())
    assert names == COLUMNS
    for dialect in (SQLITE, POSTGRES):
        ddl = create_table(dialect)
        assert all(f"\n    {name} " in ddl for name in names)
    assert "outlinks JSONB NOT NULL" in create_table(POSTGRES) and "outlinks TEXT NOT NULL" in create_table(SQLITE)


def test_both_dialects_key_the_items_by_their_page_and_their_place_in_it():
    for dialect, json_type in ((SQLITE, "TEXT"), (POSTGRES, "JSONB")):
        ddl = create_items_table(dialect)
        assert ddl.startswith("CREATE TABLE IF NOT EXISTS items (")
        assert all(f"\n    {name} " in ddl for name in ITEM_COLUMNS)
        assert f"item {json_type} NOT NULL" in ddl and "PRIMARY KEY (job, url, kind, seq)" in ddl
