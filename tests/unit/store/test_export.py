"""The SQLite store keeps one record per (job, url); export writes the fields every export has first."""

from __future__ import annotations

import csv
import io
import json
import re
import sqlite3
import time
from datetime import datetime, timedelta

import pytest

from pipeline.errors import ConfigError
from pipeline.fetch import utcnow
from pipeline.store import EXPORT_FIELDS, Record, open_store
from pipeline.store.export import export

FIRST_FIELDS = ("url", "final_url", "status", "depth", "content_type", "title", "outlinks", "fetched_at", "error")


def record(url: str, job: str = "job1", **changes) -> Record:
    values = {
        "job": job,
        "url": url,
        "final_url": url,
        "status": 200,
        "depth": 1,
        "content_type": "text/html",
        "title": "A title",
        "outlinks": ["http://example.com/a", "http://example.com/b"],
        "fetched_at": "2024-05-01T12:00:00Z",
        "error": None,
    }
    values.update(changes)
    return Record(**values)


@pytest.fixture
def store(tmp_path):
    store = open_store("sqlite:///" + str(tmp_path / "crawl.db"))
    yield store
    store.close()


def test_put_then_read_back_every_field(store):
    original = record(
        "http://example.com/",
        title="Café ünïcode",
        redirects=["http://example.com/start"],
        content_hash="ab" * 20,
        length=1234,
        elapsed=0.5,
        encoding="utf-8",
    )
    store.put(original)

    assert list(store.records("job1")) == [original]


def test_failure_record_round_trips_nulls(store):
    failed = record("http://example.com/down", status=None, content_type=None, title=None, outlinks=[], error="timeout")
    store.put(failed)

    assert list(store.records("job1")) == [failed]


def test_put_twice_keeps_one_row_with_the_second_values(store, tmp_path):
    store.put(record("http://example.com/", title="first", status=500, error="HTTP 500"))
    store.put(record("http://example.com/", title="second", status=200, error=None, outlinks=["http://example.com/new"]))

    rows = list(store.records("job1"))
    assert len(rows) == 1
    assert rows[0].title == "second"
    assert rows[0].status == 200
    assert rows[0].error is None
    assert rows[0].outlinks == ["http://example.com/new"]
    assert store.count("job1") == 1
    # and on disk too, as another process would see it
    with sqlite3.connect(tmp_path / "crawl.db") as conn:
        assert conn.execute("SELECT COUNT(*) FROM pages").fetchone()[0] == 1


def test_fetch_times_have_milliseconds_so_two_fetches_in_one_second_are_ordered():
    first = utcnow()
    time.sleep(0.002)
    second = utcnow()

    assert re.fullmatch(r"\d{4}-\d\d-\d\dT\d\d:\d\d:\d\d\.\d{3}Z", first)
    assert datetime.fromisoformat(first).utcoffset() == timedelta(0)
    assert first < second


def test_records_come_in_first_stored_order_even_after_an_update(store):
    for name in ["c", "a", "b"]:
        store.put(record(f"http://example.com/{name}"))
    store.put(record("http://example.com/c", title="updated"))

    urls = [r.url for r in store.records("job1")]
    assert urls == ["http://example.com/c", "http://example.com/a", "http://example.com/b"]


def test_jobs_are_kept_apart(store):
    store.put(record("http://example.com/", job="one"))
    store.put(record("http://example.com/", job="two", title="other"))
    store.put(record("http://example.com/x", job="two"))

    assert store.count("one") == 1
    assert store.count("two") == 2
    assert store.count("nobody") == 0
    assert [r.title for r in store.records("one")] == ["A title"]
    assert list(store.records("nobody")) == []


def test_records_survive_reopening(tmp_path):
    url = "sqlite:///" + str(tmp_path / "sub" / "dir" / "crawl.db")
    first = open_store(url)
    first.put(record("http://example.com/"))
    first.close()

    second = open_store(url)
    try:
        assert second.count("job1") == 1
    finally:
        second.close()


def test_unwritable_path_is_config_error(tmp_path):
    blocker = tmp_path / "a-file"
    blocker.write_text("not a directory")

    with pytest.raises(ConfigError) as info:
        open_store("sqlite:///" + str(blocker / "crawl.db"))

    assert "crawl.db" in str(info.value)


def test_directory_as_database_is_config_error(tmp_path):
    with pytest.raises(ConfigError):
        open_store("sqlite:///" + str(tmp_path))


@pytest.mark.parametrize("url", ["sqlite://", "sqlite:///", "redis://localhost/", "nonsense"])
def test_bad_store_url_is_config_error(url):
    with pytest.raises(ConfigError) as info:
        open_store(url)

    assert "CRAWLER_STORE_URL" in str(info.value)


# --- export ---------------------------------------------------------------------------


def _records() -> list[Record]:
    return [
        record("http://example.com/", title="Home, \"quoted\"", depth=0, redirects=["http://example.com/r"]),
        record(
            "http://example.com/gone", status=404, title=None, outlinks=[], error="HTTP 404", content_type="text/html"
        ),
        record("http://example.com/down", status=None, content_type=None, title=None, outlinks=[], error="timeout"),
    ]


def test_export_fields_are_those_of_the_design():
    assert tuple(EXPORT_FIELDS) == FIRST_FIELDS


def test_jsonl_export_has_design_fields_and_types():
    out = io.StringIO()

    written = export(_records(), out, "jsonl")

    lines = out.getvalue().splitlines()
    assert written == len(lines) == 3
    rows = [json.loads(line) for line in lines]
    for row in rows:
        assert set(FIRST_FIELDS) <= set(row)
        assert isinstance(row["outlinks"], list)
        assert isinstance(row["depth"], int)
    assert rows[0]["url"] == "http://example.com/"
    assert rows[0]["status"] == 200
    assert rows[0]["title"] == 'Home, "quoted"'
    assert rows[0]["outlinks"] == ["http://example.com/a", "http://example.com/b"]
    assert rows[1]["error"] == "HTTP 404" and rows[1]["status"] == 404
    assert rows[2]["status"] is None and rows[2]["content_type"] is None and rows[2]["error"] == "timeout"


def test_jsonl_export_keeps_non_ascii_readable():
    out = io.StringIO()
    export([record("http://example.com/", title="日本語")], out, "jsonl")

    assert "日本語" in out.getvalue()


def test_csv_export_has_design_columns_and_one_row_per_record():
    out = io.StringIO()

    written = export(_records(), out, "csv")

    rows = list(csv.DictReader(io.StringIO(out.getvalue())))
    assert written == len(rows) == 3
    assert list(rows[0])[: len(FIRST_FIELDS)] == list(FIRST_FIELDS)
    assert rows[0]["title"] == 'Home, "quoted"'
    assert rows[0]["outlinks"].split() == ["http://example.com/a", "http://example.com/b"]
    assert rows[0]["status"] == "200"
    assert rows[2]["status"] == ""  # null: no response came
    assert rows[2]["error"] == "timeout"


@pytest.mark.parametrize("fmt", ["jsonl", "csv"])
def test_export_has_the_kind_and_a_sitemaps_real_url(fmt):
    url = "http://example.com/sitemap.xml"
    out = io.StringIO()

    export([record(url), record(url, kind="sitemap", outlinks=["http://example.com/listed"])], out, fmt)

    text = out.getvalue()
    if fmt == "jsonl":
        rows = [json.loads(line) for line in text.splitlines()]
    else:
        rows = list(csv.DictReader(io.StringIO(text)))
    assert [(row["url"], row["kind"]) for row in rows] == [(url, "page"), (url, "sitemap")]


def test_export_of_a_stored_job(store):
    for item in _records():
        store.put(item)
    out = io.StringIO()

    assert export(store.records("job1"), out, "jsonl") == 3
    assert [json.loads(line)["url"] for line in out.getvalue().splitlines()] == [r.url for r in _records()]


def test_export_of_nothing_writes_nothing_but_a_csv_header():
    jsonl, table = io.StringIO(), io.StringIO()

    assert export([], jsonl, "jsonl") == 0
    assert export([], table, "csv") == 0
    assert jsonl.getvalue() == ""
    assert table.getvalue().splitlines()[0].split(",")[: len(FIRST_FIELDS)] == list(FIRST_FIELDS)
