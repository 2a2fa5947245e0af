"""PostgreSQL store (psycopg 3): one dataset that workers on many hosts write at once.
Same contract as SQLite: an upsert on (job, url, kind), records in first-stored order, a
page's items replaced in the transaction that writes its record. Each
process and thread keeps its own connection and opens a new one after a failure; when
that fails too, the server is away (a restart, a network cut): StoreUnavailable. Opening
a table of an older schema brings it up to date, under an advisory lock."""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Callable, Iterator, Sequence
from typing import TypeVar

import psycopg
from psycopg import sql

from pipeline.errors import ConfigError, StoreUnavailable
from pipeline.store.base import DueCounts, Item, Record, Store
from pipeline.store.schema import (
    COLUMNS,
    KEY,
    POSTGRES,
    SCHEMA_VERSION,
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

_UPSERT = upsert_sql("%s")
_DELETE_ITEMS = delete_items_sql("%s")
_INSERT_ITEM = insert_item_sql("%s")
_ITEMS = items_sql(POSTGRES, "%s")
_DUE = due_sql("%s")
_MARK_FED = mark_fed_sql("%s")
_DUE_COUNTS = due_counts_sql("%s")
# PostgreSQL has no PRAGMA user_version: the schema version is the table's comment.
_COMMENT = "celery-crawler schema {}"
_VERSION = re.compile(r"celery-crawler schema (\d+)")
# The advisory lock (an arbitrary 64-bit number, "crawlmig") that makes processes opening
# the store at once migrate it one after the other.
_MIGRATION_LOCK = 0x637261776C6D6967
# Rows fetched per round trip when a job is exported.
_BATCH = 1000
# libpq takes whole seconds and treats anything below 2 as 2.
_MIN_CONNECT_TIMEOUT = 2
# libpq's words for a server that is away for now, not one that turned us down: nothing
# listening, no answer in time, a dropped connection, a server starting, stopping or full.
_AWAY = re.compile(
    r"connection refused|timeout expired|server closed the connection|connection reset|no route to host"
    r"|network is unreachable|the database system is (starting up|shutting down|in recovery)|too many clients",
    re.IGNORECASE,
)
T = TypeVar("T")


class PostgresStore(Store):
    def __init__(self, url: str, timeout: float) -> None:
        """Opening checks the URL and the credentials: a server that turns them down is a
        ConfigError; one that is away (a worker starting while PostgreSQL restarts) is
        StoreUnavailable, like a failure of any later write."""
        self.url = url
        self.connect_timeout = max(_MIN_CONNECT_TIMEOUT, math.ceil(timeout))
        self._local = threading.local()
        try:
            with self._connect() as conn:
                _migrate(conn)
        except psycopg.Error as exc:
            message = f"cannot open PostgreSQL store: {_first_line(exc)}"
            if isinstance(exc, psycopg.OperationalError) and _AWAY.search(str(exc)):
                raise StoreUnavailable(message) from None
            raise ConfigError(message) from None

    def put(self, record: Record, items: Sequence[Item] | None = None) -> None:
        row = to_row(record)
        if items is None:
            # One statement is a transaction of its own: no BEGIN and COMMIT to wait for.
            self._run(lambda conn: conn.execute(_UPSERT, row))
            return
        rows = item_rows(record, items)

        def write(conn: psycopg.Connection) -> None:
            with conn.transaction(), conn.cursor() as cursor:
                # The upsert holds the page's row until the commit: a put of the same page
                # waits for it, so the items left are always those of the record left.
                if cursor.execute(_UPSERT, row).rowcount:
                    cursor.execute(_DELETE_ITEMS, (record.job, record.url, record.kind))
                    cursor.executemany(_INSERT_ITEM, rows)

        self._run(write)

    def records(self, job: str) -> Iterator[Record]:
        query = f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE job = %s ORDER BY id"
        for row in self._export(query, job):
            yield from_row(row)

    def items(self, job: str) -> Iterator[tuple[str, Item]]:
        for row in self._export(_ITEMS, job):
            yield from_item_row(row)

    def pages(self, job: str, urls: Sequence[str]) -> list[Record]:
        if not urls:
            return []
        query = pages_sql("%s", len(urls))
        return [from_row(row) for row in self._run(lambda conn: conn.execute(query, (job, *urls)).fetchall())]

    def count(self, job: str) -> int:
        query = f"SELECT COUNT(*) FROM {TABLE} WHERE job = %s"
        ((count,),) = self._run(lambda conn: conn.execute(query, (job,)).fetchall())
        return int(count)

    def forget(self, job: str) -> int:
        items, records = forget_sql("%s")

        def write(conn: psycopg.Connection) -> int:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.execute(items, (job,))
                cursor.execute(records, (job,))
                return cursor.rowcount

        return self._run(write)

    def make_due(self, job: str, at: float, fetched_before: str | None = None) -> int:
        query, params = make_due_statement("%s", job, at, fetched_before)
        return self._run(lambda conn: conn.execute(query, params).rowcount)

    def due(self, job: str, now: float, limit: int) -> list[Record]:
        # A batch is small: no server-side cursor, and `_run`'s retry on a broken connection.
        rows = self._run(lambda conn: conn.execute(_DUE, (job, now, limit)).fetchall())
        return [from_row(row) for row in rows]

    def mark_fed(self, job: str, keys: Sequence[tuple[str, str]], now: float) -> None:
        rows = mark_fed_rows(job, keys, now)

        def write(conn: psycopg.Connection) -> None:
            with conn.transaction(), conn.cursor() as cursor:
                cursor.executemany(_MARK_FED, rows)

        self._run(write)

    def due_counts(self, job: str, now: float) -> DueCounts:
        params = due_counts_params(job, now)
        return from_due_counts_row(self._run(lambda conn: conn.execute(_DUE_COUNTS, params).fetchone()))

    def close(self) -> None:
        self._forget()

    def _export(self, query: str, job: str) -> Iterator[tuple[object, ...]]:
        """The rows of `query` for `job`, a batch per round trip: a job may have more than
        memory holds."""
        try:
            # A server-side cursor lives in a transaction: not on an autocommit connection.
            with self._connect(autocommit=False) as conn, conn.cursor(name="export") as cursor:
                cursor.itersize = _BATCH
                cursor.execute(query, (job,))
                yield from cursor
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"PostgreSQL store unavailable: {_first_line(exc)}") from None

    def _conn(self) -> psycopg.Connection:
        conn: psycopg.Connection | None = getattr(self._local, "conn", None)
        if conn is None or conn.closed or self._local.pid != os.getpid():
            conn = self._connect()
            self._local.conn, self._local.pid = conn, os.getpid()
        return conn

    def _run(self, call: Callable[[psycopg.Connection], T]) -> T:
        """`call` on this thread's connection. A connection that broke since its last use is
        replaced once; if the new one fails too, the server is away for now."""
        try:
            return call(self._conn())
        except psycopg.OperationalError:
            self._forget()
        try:
            return call(self._conn())
        except psycopg.OperationalError as exc:
            self._forget()
            raise StoreUnavailable(f"PostgreSQL store unavailable: {_first_line(exc)}") from None

    def _connect(self, autocommit: bool = True) -> psycopg.Connection:
        return psycopg.connect(self.url, autocommit=autocommit, connect_timeout=self.connect_timeout)

    def _forget(self) -> None:
        conn = getattr(self._local, "conn", None)
        if conn is not None and self._local.pid == os.getpid():
            conn.close()
        self._local.conn = None


def _migrate(conn: psycopg.Connection) -> None:
    """Bring the table up to SCHEMA_VERSION in one transaction, DDL included, under an
    advisory lock: of several processes opening the store at once, one does it."""
    if _version(conn) == SCHEMA_VERSION:
        return
    with conn.transaction():
        conn.execute("SELECT pg_advisory_xact_lock(%s)", (_MIGRATION_LOCK,))
        _upgrade(conn)


def _upgrade(conn: psycopg.Connection) -> None:
    version = _version(conn)
    if version > SCHEMA_VERSION:
        raise ConfigError(newer_schema(version, "the PostgreSQL store"))
    if version == SCHEMA_VERSION:
        return
    query = "SELECT attname FROM pg_attribute WHERE attrelid = to_regclass(%s) AND attnum > 0 AND NOT attisdropped"
    existing = {row[0] for row in conn.execute(query, (TABLE,))}
    if not existing:
        conn.execute(create_table(POSTGRES))
    else:
        for column in missing_columns(existing):
            conn.execute(f"ALTER TABLE {TABLE} ADD COLUMN {column.sql(POSTGRES)}")
        _rekey(conn)
        # A table from before versions were kept is version 1.
        for statement in upgrades(max(version, 1)):
            conn.execute(statement)
    conn.execute(create_items_table(POSTGRES))
    conn.execute(create_due_index())
    conn.execute(f"COMMENT ON TABLE {TABLE} IS '{_COMMENT.format(SCHEMA_VERSION)}'")


def _rekey(conn: psycopg.Connection) -> None:
    """Drop and re-add the primary key if it is not KEY (an index rebuild, rows in place)."""
    query = (
        "SELECT conname, pg_get_constraintdef(oid) FROM pg_constraint"
        " WHERE conrelid = to_regclass(%s) AND contype = 'p'"
    )
    row = conn.execute(query, (TABLE,)).fetchone()
    wanted = f"PRIMARY KEY ({', '.join(KEY)})"
    if row is not None and row[1] == wanted:
        return
    drop = sql.SQL("DROP CONSTRAINT {}, ").format(sql.Identifier(row[0])) if row else sql.SQL("")
    conn.execute(sql.SQL("ALTER TABLE {} {}ADD {}").format(sql.Identifier(TABLE), drop, sql.SQL(wanted)))


def _version(conn: psycopg.Connection) -> int:
    """The version in the table's comment; 0 for no table, or one from before versions."""
    row = conn.execute("SELECT obj_description(to_regclass(%s), 'pg_class')", (TABLE,)).fetchone()
    match = _VERSION.fullmatch((row[0] if row else None) or "")
    return int(match.group(1)) if match else 0


def _first_line(exc: Exception) -> str:
    """libpq's messages run over several lines (hints, the failed address): keep the first."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
