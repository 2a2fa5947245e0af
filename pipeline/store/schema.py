"""The one definition of the ``pages`` table in both SQL dialects: a column per field of
`Record` (typed from its annotation, defaulted from its default; its WARC pointer in a
column per part), and the key. A new
field of Record with a default, and SCHEMA_VERSION + 1, is a new column: opening an
older store adds it (see `missing_columns`); a changed key is rebuilt by the backends.
Beside it the ``items`` table: the items extractors made of each page, keyed by the
page's key, so that storing a page again replaces its items; and the index of the URLs
due for a revisit."""

from __future__ import annotations

import dataclasses
import json
import types
from collections.abc import Sequence
from dataclasses import dataclass
from typing import Any, Union, get_args, get_origin, get_type_hints

from pipeline.fetch import WARC_COLUMNS, WarcPointer
from pipeline.store import base
from pipeline.store.base import DueCounts, Item, Record

TABLE = "pages"
KEY = ("job", "url", "kind")
# 1: the table as first released, before versions were kept (an unversioned table is 1).
# 2: `kind`, in the key; a sitemap's record has its real URL, no longer "sitemap:URL".
# 3: warc_file, warc_offset, warc_length.
# 4: extract_error; the items table.
# 5: the fetch history (etag, last_modified, fetch_count, first_fetched_at, changed_at, revisit).
# 6: revisits (warc_record_id, warc_digest, revisit_interval, next_fetch_at); the pages_due index.
# 7: render_time.
# 8: render_reason, render_evidence.
SCHEMA_VERSION = 8
# How schema 1 told a sitemap's record from the page at the same URL.
_OLD_SITEMAP_PREFIX = "sitemap:"
# Data changes a version brings, run once on a store brought up to it from an older one.
UPGRADES: dict[int, tuple[str, ...]] = {
    2: (
        (
            f"UPDATE {TABLE} SET kind = 'sitemap', url = substr(url, {len(_OLD_SITEMAP_PREFIX) + 1})"
            f" WHERE url LIKE '{_OLD_SITEMAP_PREFIX}%'"
        ),
    ),
}


@dataclass(frozen=True)
class Dialect:
    """How one database spells the column types, and how it keeps first-stored order:
    SQLite by its rowid, PostgreSQL by a sequence column that Record does not have."""

    name: str
    types: dict[type, str]
    order_column: str | None


SQLITE = Dialect(
    "sqlite", {str: "TEXT", int: "INTEGER", float: "REAL", list: "TEXT", dict: "TEXT"}, order_column=None
)
POSTGRES = Dialect(
    "postgresql",
    {str: "TEXT", int: "BIGINT", float: "DOUBLE PRECISION", list: "JSONB", dict: "JSONB"},
    order_column="id",
)


@dataclass(frozen=True)
class Column:
    name: str
    type: type
    nullable: bool
    default: Any = None

    def sql(self, dialect: Dialect) -> str:
        """The column's definition, as CREATE TABLE and ALTER TABLE … ADD COLUMN take it."""
        text = f"{self.name} {dialect.types[self.type]}"
        if not self.nullable:
            text += " NOT NULL"
        if self.default is not None:
            text += f" DEFAULT {_literal(self.default)}"
        return text


def _column(name: str, hint: Any, default: Any) -> Column:
    nullable = get_origin(hint) in (Union, types.UnionType) and type(None) in get_args(hint)
    if nullable:
        hint = next(arg for arg in get_args(hint) if arg is not type(None))
    return Column(name, get_origin(hint) or hint, nullable, default)


def _default(field: dataclasses.Field[Any]) -> Any:
    if field.default_factory is not dataclasses.MISSING:
        return field.default_factory()
    return None if field.default is dataclasses.MISSING else field.default


def _columns() -> tuple[Column, ...]:
    """The table's columns, in the order of Record's (base.COLUMNS): a part of its WARC
    pointer is nullable, as a record may have no pointer."""
    hints, parts = get_type_hints(Record), get_type_hints(WarcPointer)
    defaults = {field.name: _default(field) for field in dataclasses.fields(Record)}
    return tuple(
        _column(name, parts[WARC_COLUMNS[name]] | None, None)
        if name in WARC_COLUMNS
        else _column(name, hints[name], defaults[name])
        for name in base.COLUMNS
    )


COLUMN_DEFS = _columns()
# The columns of a SQL store, in order; lists and objects are kept as JSON (text in SQLite).
COLUMNS = tuple(column.name for column in COLUMN_DEFS)
JSON_COLUMNS = frozenset(column.name for column in COLUMN_DEFS if column.type in (list, dict))


ITEMS_TABLE = "items"
ITEM_COLUMN_DEFS = (
    Column("job", str, nullable=False),
    Column("url", str, nullable=False),
    Column("kind", str, nullable=False),
    Column("extractor", str, nullable=False),
    Column("seq", int, nullable=False),
    Column("item", dict, nullable=False),
)
ITEM_COLUMNS = tuple(column.name for column in ITEM_COLUMN_DEFS)
# Led by the job, then the page's key: the index that finds a job's items, each page's
# together and in their order, and the rows a page stored again replaces.
ITEMS_KEY = (*KEY, "seq")
DUE_INDEX = f"{TABLE}_due"


def create_table(dialect: Dialect, table: str = TABLE) -> str:
    lines = [column.sql(dialect) for column in COLUMN_DEFS]
    if dialect.order_column:
        lines.insert(0, f"{dialect.order_column} BIGSERIAL")
    lines.append(f"PRIMARY KEY ({', '.join(KEY)})")
    return f"CREATE TABLE {_body(table, lines)}"


def create_items_table(dialect: Dialect) -> str:
    """Run by every migration, whatever version it starts from: every store older than
    version 4 lacks the table, a fresh one as much as one being upgraded."""
    lines = [column.sql(dialect) for column in ITEM_COLUMN_DEFS]
    lines.append(f"PRIMARY KEY ({', '.join(ITEMS_KEY)})")
    return f"CREATE TABLE IF NOT EXISTS {_body(ITEMS_TABLE, lines)}"


def create_due_index() -> str:
    """Run by every migration, as `create_items_table` is. Led by the job, so that a job's due
    URLs are one range of it, earliest first; partial, so that the URLs of one-pass jobs,
    never scheduled, cost it nothing. The same statement in both dialects."""
    return f"CREATE INDEX IF NOT EXISTS {DUE_INDEX} ON {TABLE} (job, next_fetch_at) WHERE next_fetch_at IS NOT NULL"


def _body(table: str, lines: list[str]) -> str:
    body = ",\n    ".join(lines)
    return f"{table} (\n    {body}\n)"


def missing_columns(existing: set[str]) -> list[Column]:
    """Columns an older table lacks, each to be added with its default."""
    return [column for column in COLUMN_DEFS if column.name not in existing]


def upgrades(since: int) -> list[str]:
    """The data changes of every version after `since`, oldest first."""
    return [sql for version in sorted(UPGRADES) if version > since for sql in UPGRADES[version]]


def newer_schema(version: int, where: str) -> str:
    return (
        f"{where} has schema version {version}, newer than this crawler's {SCHEMA_VERSION}: "
        "upgrade celery-crawler to use it"
    )


def to_row(record: Record) -> list[Any]:
    data = record.to_json()
    return [json.dumps(data[name]) if name in JSON_COLUMNS else data[name] for name in COLUMNS]


def from_row(row: Any) -> Record:
    data = dict(zip(COLUMNS, row, strict=True))
    for name in JSON_COLUMNS:
        if isinstance(data[name], str):
            data[name] = json.loads(data[name])
    return Record.from_json(data)


def item_rows(record: Record, items: Sequence[Item]) -> list[tuple[Any, ...]]:
    """Rows of ITEM_COLUMNS, numbered in the order given: `seq` keeps it for `items_sql`."""
    return [
        (record.job, record.url, record.kind, item.extractor, seq, json.dumps(item.data))
        for seq, item in enumerate(items)
    ]


def from_item_row(row: Any) -> tuple[str, Item]:
    """A row of `items_sql`; PostgreSQL hands JSONB back decoded, SQLite as text."""
    url, extractor, data = row
    return url, Item(extractor, json.loads(data) if isinstance(data, str) else data)


def delete_items_sql(placeholder: str) -> str:
    """Every item of one page (job, url, kind): what storing the page again replaces."""
    return f"DELETE FROM {ITEMS_TABLE} WHERE {' AND '.join(f'{c} = {placeholder}' for c in KEY)}"


def pages_sql(placeholder: str, count: int) -> str:
    """The page records of one job at `count` URLs."""
    urls = ", ".join(placeholder for _ in range(count))
    return f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE job = {placeholder} AND kind = 'page' AND url IN ({urls})"


def forget_sql(placeholder: str) -> tuple[str, str]:
    """Every item, then every record, of one job: what starting the job over removes."""
    return (f"DELETE FROM {ITEMS_TABLE} WHERE job = {placeholder}", f"DELETE FROM {TABLE} WHERE job = {placeholder}")


def insert_item_sql(placeholder: str) -> str:
    marks = ", ".join(placeholder for _ in ITEM_COLUMNS)
    return f"INSERT INTO {ITEMS_TABLE} ({', '.join(ITEM_COLUMNS)}) VALUES ({marks})"


def items_sql(dialect: Dialect, placeholder: str) -> str:
    """A job's items, joined to their pages for the pages' first-stored order."""
    on = " AND ".join(f"i.{c} = p.{c}" for c in KEY)
    return (
        f"SELECT i.url, i.extractor, i.item FROM {TABLE} p JOIN {ITEMS_TABLE} i ON {on}"
        f" WHERE p.job = {placeholder} ORDER BY p.{dialect.order_column or 'rowid'}, i.seq"
    )


# How the fetch history columns follow from the stored row ({t}) and the new one
# (excluded). The same fetch written again (its depth lowered, a store retry) has the same
# fetched_at and changes none of them.
_HISTORY = {
    "fetch_count": "CASE WHEN {t}.fetched_at = excluded.fetched_at THEN {t}.fetch_count ELSE {t}.fetch_count + 1 END",
    "first_fetched_at": "COALESCE({t}.first_fetched_at, excluded.first_fetched_at)",
    "changed_at": (
        "CASE WHEN {t}.fetched_at = excluded.fetched_at OR excluded.content_hash IS NULL"
        " OR excluded.content_hash = {t}.content_hash THEN {t}.changed_at ELSE excluded.fetched_at END"
    ),
    "revisit": (
        "CASE WHEN {t}.fetched_at = excluded.fetched_at THEN {t}.revisit"
        " WHEN excluded.status = 304 THEN 'not-modified'"
        " WHEN excluded.content_hash IS NULL THEN NULL"
        " WHEN excluded.content_hash = {t}.content_hash THEN 'unchanged' ELSE 'changed' END"
    ),
}


# What a 304 (Not Modified, the answer to a conditional request) leaves of the stored row:
# its content, which the 304 has none of (and how that was read: rendered or not, and why),
# and the validators it may or may not repeat.
_CONTENT = (
    "final_url", "status", "content_type", "title", "outlinks", "content_hash", "length", "encoding", "redirects",
    "warc_file", "warc_offset", "warc_length", "warc_record_id", "warc_digest", "extract_error",
    "render_time", "render_reason", "render_evidence",
)
_VALIDATORS = ("etag", "last_modified")


def _update(column: str, table: str) -> str:
    """The value the upsert gives `column` of a stored row that a new fetch replaces."""
    if column in _HISTORY:
        return _HISTORY[column].format(t=table)
    if column in _CONTENT:
        kept = f"{table}.{column}"
    elif column in _VALIDATORS:
        kept = f"COALESCE(excluded.{column}, {table}.{column})"
    else:
        return f"excluded.{column}"
    return f"CASE WHEN excluded.status = 304 THEN {kept} ELSE excluded.{column} END"


def upsert_sql(placeholder: str, table: str = TABLE) -> str:
    """INSERT … ON CONFLICT (key) DO UPDATE, the same statement in SQLite and PostgreSQL.
    The update only happens for a fetch at least as recent as the stored one: an old chain
    redelivered late must not replace what a newer fetch stored. The fetch history is
    carried over from the stored row rather than replaced, and so is the content on a 304."""
    updates = ", ".join(f"{c} = {_update(c, table)}" for c in COLUMNS if c not in KEY)
    marks = ", ".join(placeholder for _ in COLUMNS)
    return (
        f"INSERT INTO {table} ({', '.join(COLUMNS)}) VALUES ({marks})"
        f" ON CONFLICT ({', '.join(KEY)}) DO UPDATE SET {updates}"
        f" WHERE {table}.fetched_at <= excluded.fetched_at"
    )


def due_sql(placeholder: str) -> str:
    """(job, now, limit): the equality on the job and the range on next_fetch_at, which implies
    the index's IS NOT NULL, make it a range scan of DUE_INDEX already in the order wanted."""
    return (
        f"SELECT {', '.join(COLUMNS)} FROM {TABLE} WHERE job = {placeholder} AND next_fetch_at <= {placeholder}"
        f" ORDER BY next_fetch_at LIMIT {placeholder}"
    )


def make_due_statement(
    placeholder: str, job: str, at: float, fetched_before: str | None
) -> tuple[str, tuple[Any, ...]]:
    """The statement and its parameters: a condition on fetched_at only when one is given."""
    query = f"UPDATE {TABLE} SET next_fetch_at = {placeholder} WHERE job = {placeholder}"
    if fetched_before is None:
        return query, (at, job)
    return f"{query} AND fetched_at <= {placeholder}", (at, job, fetched_before)


def mark_fed_sql(placeholder: str) -> str:
    """(job, url, kind, now), a row per URL handed to the frontier."""
    keys = " AND ".join(f"{c} = {placeholder}" for c in KEY)
    return f"UPDATE {TABLE} SET next_fetch_at = NULL WHERE {keys} AND next_fetch_at <= {placeholder}"


def mark_fed_rows(job: str, keys: Sequence[tuple[str, str]], now: float) -> list[tuple[Any, ...]]:
    return [(job, url, kind, now) for url, kind in keys]


def due_counts_sql(placeholder: str) -> str:
    """(now, now, now, job), as `due_counts_params` gives them: one pass over the job's range
    of DUE_INDEX, which holds every column the query reads."""
    return (
        f"SELECT COUNT(CASE WHEN next_fetch_at <= {placeholder} THEN 1 END),"
        f" COUNT(CASE WHEN next_fetch_at > {placeholder} THEN 1 END),"
        f" MIN(CASE WHEN next_fetch_at > {placeholder} THEN next_fetch_at END)"
        f" FROM {TABLE} WHERE job = {placeholder} AND next_fetch_at IS NOT NULL"
    )


def due_counts_params(job: str, now: float) -> tuple[Any, ...]:
    return (now, now, now, job)


def from_due_counts_row(row: Any) -> DueCounts:
    due, later, next_at = row
    return DueCounts(int(due), int(later), None if next_at is None else float(next_at))


def _literal(value: Any) -> str:
    if isinstance(value, list):
        value = json.dumps(value)
    if isinstance(value, str):
        return "'" + value.replace("'", "''") + "'"
    return repr(value)
