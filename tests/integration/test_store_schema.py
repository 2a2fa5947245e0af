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
from pipeline.store import Record, Store, open_store
from pipeline.store.schema import (
    COLUMNS,
    POSTGRES,
    SCHEMA_VERSION,
    SQLITE,
    create_table,
)
from tests.integration.test_stores import POSTGRES_URL

# The tables as the first release made them, copied from it: the fixtures of old stores.
LEGACY_SQLITE = """
CREATE TABLE IF NOT EXISTS pages (
    job TEXT NOT NULL,
    url TEXT NOT NULL,
    final_url TEXT NOT NULL,
    status INTEGER,
    depth INTEGER NOT NULL,
    content_type TEXT,
    title TEXT,
    outlinks TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    error TEXT,
    content_hash TEXT,
    length INTEGER NOT NULL DEFAULT 0,
    elapsed REAL NOT NULL DEFAULT 0,
    encoding TEXT,
    redirects TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (job, url)
)
"""
LEGACY_POSTGRES = """
CREATE TABLE IF NOT EXISTS pages (
    id BIGSERIAL,
    job TEXT NOT NULL,
    url TEXT NOT NULL,
    final_url TEXT NOT NULL,
    status INTEGER,
    depth INTEGER NOT NULL,
    content_type TEXT,
    title TEXT,
    outlinks JSONB NOT NULL,
    fetched_at TEXT NOT NULL,
    error TEXT,
    content_hash TEXT,
    length BIGINT NOT NULL DEFAULT 0,
    elapsed DOUBLE PRECISION NOT NULL DEFAULT 0,
    encoding TEXT,
    redirects JSONB NOT NULL DEFAULT '[]',
    PRIMARY KEY (job, url)
)
"""
# Rows an old crawl left, in this order: a page, a failure, and a sitemap named the old way.
LEGACY_ROWS = [
    ("old", "http://a.example/2", "http://a.example/2", 200, 1, "text/html", "two", '["http://a.example/1"]',
     "2026-11-01T10:00:00Z", None, "ab" * 20, 120, 0.25, "utf-8", '["http://a.example/r"]'),
    ("old", "http://a.example/1", "http://a.example/1", None, 0, None, None, "[]",
     "2026-11-01T10:00:01Z", "timeout", None, 0, 0.0, None, "[]"),
    ("old", "sitemap:http://a.example/sitemap.xml", "http://a.example/sitemap.xml", 200, 0, "application/xml", None,
     '["http://a.example/2"]', "2026-11-01T10:00:02Z", None, None, 80, 0.01, None, "[]"),
]
LEGACY_COLUMNS = ("job, url, final_url, status, depth, content_type, title, outlinks, fetched_at, error, "
                  "content_hash, length, elapsed, encoding, redirects")


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
    for row in LEGACY_ROWS:
        values = ", ".join("NULL" if value is None else repr(value) for value in row)
        old.execute(f"INSERT INTO pages ({LEGACY_COLUMNS}) VALUES ({values})")
    return old


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


def test_workers_opening_an_old_store_at_the_same_moment_all_succeed_and_keep_every_row(legacy):
    opening = 6
    start = threading.Barrier(opening)
    failures: list[Exception] = []

    def open_it() -> None:
        start.wait()
        try:
            _opened(legacy.url).close()
        except (CrawlError, psycopg.Error, sqlite3.Error) as exc:
            failures.append(exc)

    threads = [threading.Thread(target=open_it) for _ in range(opening)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join()

    assert failures == []
    store = _opened(legacy.url)
    try:
        assert [(r.url, r.kind) for r in store.records("old")] == [
            ("http://a.example/2", "page"), ("http://a.example/1", "page"), ("http://a.example/sitemap.xml", "sitemap"),
        ]
    finally:
        store.close()


def test_both_dialects_define_every_field_of_record_and_nothing_else():
    names = tuple(field.name for field in dataclasses.fields(Record))
    assert names == COLUMNS
    for dialect in (SQLITE, POSTGRES):
        ddl = create_table(dialect)
        assert all(f"\n    {name} " in ddl for name in names)
    assert "outlinks JSONB NOT NULL" in create_table(POSTGRES) and "outlinks TEXT NOT NULL" in create_table(SQLITE)
