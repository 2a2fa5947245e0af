"""PostgreSQL store (psycopg 3): one dataset that workers on many hosts write at once.
Same contract as SQLite: an upsert on (job, url), records in first-stored order. Each
process and thread keeps its own connection and opens a new one after a failure; when
that fails too, the server is away (a restart, a network cut): StoreUnavailable."""

from __future__ import annotations

import math
import os
import re
import threading
from collections.abc import Callable, Iterator
from typing import Any, TypeVar

import psycopg

from pipeline.errors import ConfigError, StoreUnavailable
from pipeline.store.base import COLUMNS, Record, Store, from_row, to_row, upsert_sql

_SCHEMA = """
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
_UPSERT = upsert_sql("pages", "%s")
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
                conn.execute(_SCHEMA)
        except psycopg.Error as exc:
            message = f"cannot open PostgreSQL store: {_first_line(exc)}"
            if isinstance(exc, psycopg.OperationalError) and _AWAY.search(str(exc)):
                raise StoreUnavailable(message) from None
            raise ConfigError(message) from None

    def put(self, record: Record) -> None:
        self._run(lambda conn: conn.execute(_UPSERT, to_row(record)))

    def records(self, job: str) -> Iterator[Record]:
        try:
            # A server-side cursor lives in a transaction: not on an autocommit connection.
            with self._connect(autocommit=False) as conn, conn.cursor(name="export") as cursor:
                cursor.itersize = _BATCH
                cursor.execute(f"SELECT {', '.join(COLUMNS)} FROM pages WHERE job = %s ORDER BY id", (job,))
                for row in cursor:
                    yield from_row(row)
        except psycopg.OperationalError as exc:
            raise StoreUnavailable(f"PostgreSQL store unavailable: {_first_line(exc)}") from None

    def count(self, job: str) -> int:
        row: Any = self._run(lambda conn: conn.execute("SELECT COUNT(*) FROM pages WHERE job = %s", (job,)).fetchone())
        return int(row[0])

    def close(self) -> None:
        self._forget()

    def _conn(self) -> psycopg.Connection:
        conn = getattr(self._local, "conn", None)
        if conn is None or conn.closed or self._local.pid != os.getpid():
            self._local.conn, self._local.pid = self._connect(), os.getpid()
        return self._local.conn

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


def _first_line(exc: Exception) -> str:
    """libpq's messages run over several lines (hints, the failed address): keep the first."""
    return (str(exc).strip().splitlines() or [type(exc).__name__])[0]
