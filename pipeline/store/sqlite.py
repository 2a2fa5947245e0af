"""SQLite store: the zero-setup default. WAL mode lets several local worker processes
write at once; each process and thread opens its own connection (connections survive
neither a fork nor a hand-over between threads). A database another process keeps
locked past the store timeout is StoreUnavailable: the write is tried again later. The
schema version is PRAGMA user_version; opening an older file brings it up to date. A
page's items are replaced in the transaction that writes its record, or not at all."""

from __future__ import annotations

import os
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

from pipeline.errors import ConfigError, StoreUnavailable
from pipeline.store.base import DueCounts, Item, Record, Store
from pipeline.store.schema import (
    COLUMNS,
    KEY,
    SCHEMA_VERSION,
    SQLITE,
    TABLE,
    create_due_index,
    create_items_table,
    create_table,
    delete_items_sql,
    due_counts_params,
    due_counts_sql,
    due_sql,
    forget_sql,
    from_due_counts_row,
    from_item_row,
    from_row,
    insert_item_sql,
    item_rows,
    items_sql,
    make_due_statement,
    mark_fed_rows,
    mark_fed_sql,
    missing_columns,
    newer_schema,
    pages_sql,
    to_row,
    upgrades,
    upsert_sql,
)

_UPSERT = upsert_sql("?")
_DELETE_ITEMS = delete_items_sql("?")
_INSERT_ITEM = insert_item_sql("?")
_ITEMS = items_sql(SQLITE, "?")
_DUE = due_sql("?")
_MARK_FED = mark_fed_sql("?")
_DUE_COUNTS = due_counts_sql("?")
# Seconds between two tries to open a store another connection is migrating.
OPEN_RETRY_SECONDS = 0.05
# What another connection holding the database makes a statement fail with, once the
# busy timeout has passed (extended codes such as SQLITE_BUSY_SNAPSHOT included).
_BUSY = frozenset({sqlite3.SQLITE_BUSY, sqlite3.SQLITE_LOCKED})
T = TypeVar("T")


class SQLiteStore(Store):
    def __init__(self, path: str, timeout: float) -> None:
        self.path = path
        self.timeout = timeout
        self._local = threading.local()
        self._connect()

    def put(self, record: Record, items: Sequence[Item] | None = None) -> None:
        rows = None if items is None else item_rows(record, items)

        def write(conn: sqlite3.Connection) -> None:
            with conn:
                # No change is an upsert that found a newer record: its items stay too.
                if conn.execute(_UPSERT, to_row(record)).rowcount and rows is not None:
                    conn.execute(_DELETE_ITEMS, (record.job, record.url, record.kind))
                    conn.executemany(_INSERT_ITEM, rows)

        self._run(write)

    def items(self, job: str) -> Iterator[tuple[str, Item]]:
        for row in self._run(lambda conn: conn.execute(_ITEMS, (job,))):
            yield from_item_row(row)

    def records(self, job: str) -> Iterator[Record]:
        query = f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE job = ? ORDER BY rowid"
        for row in self._run(lambda conn: conn.execute(query, (job,))):
            yield from_row(row)

    def pages(self, job: str, urls: Sequence[str]) -> list[Record]:
        if not urls:
            return []
        query = pages_sql("?", len(urls))
        return [from_row(row) for row in self._run(lambda conn: conn.execute(query, (job, *urls)).fetchall())]

    def count(self, job: str) -> int:
        query = f"SELECT COUNT(*) FROM {TABLE} WHERE job = ?"
        return int(self._run(lambda conn: conn.execute(query, (job,)).fetchone()[0]))

    def forget(self, job: str) -> int:
        items, records = forget_sql("?")

        def write(conn: sqlite3.Connection) -> int:
            with conn:
                conn.execute(items, (job,))
                return conn.execute(records, (job,)).rowcount

        return self._run(write)

    def make_due(self, job: str, at: float, fetched_before: str | None = None) -> int:
        query, params = make_due_statement("?", job, at, fetched_before)

        def write(conn: sqlite3.Connection) -> int:
            with conn:
                return conn.execute(query, params).rowcount

        return self._run(write)

    def due(self, job: str, now: float, limit: int) -> list[Record]:
        rows = self._run(lambda conn: conn.execute(_DUE, (job, now, limit)).fetchall())
        return [from_row(row) for row in rows]

    def mark_fed(self, job: str, keys: Sequence[tuple[str, str]], now: float) -> None:
        rows = mark_fed_rows(job, keys, now)

        def write(conn: sqlite3.Connection) -> None:
            with conn:
                conn.executemany(_MARK_FED, rows)

        self._run(write)

    def due_counts(self, job: str, now: float) -> DueCounts:
        params = due_counts_params(job, now)
        return from_due_counts_row(self._run(lambda conn: conn.execute(_DUE_COUNTS, params).fetchone()))

    def close(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None:
            conn.close()
            self._local.conn = None

    def _run(self, call: Callable[[sqlite3.Connection], T]) -> T:
        try:
            return call(self._connect())
        except sqlite3.Error as exc:
            if _busy(exc):
                raise StoreUnavailable(self._locked(exc)) from None
            raise

    def _open(self) -> sqlite3.Connection:
        """A connection in WAL mode on an up-to-date table. Of several processes opening an
        old store at once, one may be refused at once rather than made to wait (SQLite
        does so where waiting could deadlock, as when switching a file to WAL while
        another connection migrates it): the caller tries again until the timeout."""
        os.makedirs(os.path.dirname(os.path.abspath(self.path)), exist_ok=True)
        conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("PRAGMA synchronous=NORMAL")
            _migrate(conn, self.path)
        except BaseException:
            conn.close()
            raise
        return conn

    def _locked(self, exc: sqlite3.Error) -> str:
        return f"SQLite store {self.path!r}: {exc} for more than {self.timeout:g}s (CRAWLER_STORE_TIMEOUT)"

    def _connect(self) -> sqlite3.Connection:
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            return conn
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                conn = self._open()
                break
            except sqlite3.Error as exc:
                if not _busy(exc):
                    raise ConfigError(f"cannot open SQLite store {self.path!r}: {exc}") from None
                if time.monotonic() >= deadline:
                    raise StoreUnavailable(self._locked(exc)) from None
                time.sleep(OPEN_RETRY_SECONDS)
            except OSError as exc:
                raise ConfigError(f"cannot open SQLite store {self.path!r}: {exc}") from None
        conn.isolation_level = "DEFERRED"
        self._local.conn, self._local.pid = conn, os.getpid()
        return conn


def _busy(exc: sqlite3.Error) -> bool:
    return getattr(exc, "sqlite_errorcode", 0) & 0xFF in _BUSY


def _migrate(conn: sqlite3.Connection, path: str) -> None:
    """Bring the table up to SCHEMA_VERSION in one write transaction: of several processes
    opening the store at once, one does it and the others find it done."""
    if _version(conn) == SCHEMA_VERSION:
        return
    conn.execute("BEGIN IMMEDIATE")
    try:
        _upgrade(conn, path)
    except BaseException:
        conn.execute("ROLLBACK")
        raise
    conn.execute("COMMIT")


def _upgrade(conn: sqlite3.Connection, path: str) -> None:
    version = _version(conn)
    if version > SCHEMA_VERSION:
        raise ConfigError(newer_schema(version, f"SQLite store {path!r}"))
    if version == SCHEMA_VERSION:
        return
    info = conn.execute(f"PRAGMA table_info({TABLE})").fetchall()
    if not info:
        conn.execute(create_table(SQLITE))
    else:
        existing = {row[1] for row in info}
        key = tuple(row[1] for row in sorted(info, key=lambda row: row[5]) if row[5])
        if key != KEY:
            _rebuild(conn, existing)
        else:
            for column in missing_columns(existing):
                conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN {column.sql(SQLITE)}")
        # A table from before versions were kept is version 1.
        for sql in upgrades(max(version, 1)):
            conn.execute(sql)
    conn.execute(create_items_table(SQLITE))
    conn.execute(create_due_index())
    conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")


def _rebuild(conn: sqlite3.Connection, existing: set[str]) -> None:
    """SQLite cannot change a primary key in place: copy the rows into a new table, in
    first-stored order, which the new rowids keep."""
    kept = ", ".join(name for name in COLUMNS if name in existing)
    conn.execute(create_table(SQLITE, f"{TABLE}_rebuilt"))
    conn.execute(f"INSERT INTO {TABLE}_rebuilt ({kept}) SELECT {kept} FROM {TABLE} ORDER BY rowid")
    conn.execute(f"DROP TABLE {TABLE}")
    conn.execute(f"ALTER TABLE {TABLE}_rebuilt RENAME TO {TABLE}")


def _version(conn: sqlite3.Connection) -> int:
    return int(conn.execute("PRAGMA user_version").fetchone()[0])
