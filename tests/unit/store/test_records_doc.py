"""docs/records.md lists the fields of a record, and `crawler export` writes them: every field
the docs list, and no field they do not, in their order, as JSON Lines and as CSV."""

from __future__ import annotations

import csv
import json
import re
from pathlib import Path

import pytest

from pipeline.fetch import WarcPointer
from pipeline.store import Record, open_store
from tasks.cli.main import main

DOC = Path(__file__).resolve().parents[3] / "docs" / "records.md"
# A row of the field table: | `name` | what it holds |
_ROW = re.compile(r"^\|\s*`(?P<name>[a-z_]+)`\s*\|")


def documented_fields() -> list[str]:
    return [match["name"] for line in DOC.read_text(encoding="utf-8").splitlines() if (match := _ROW.match(line))]


@pytest.fixture
def stored_job(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    """A job of one record with every field set, in a SQLite store the command line reads."""
    url = "sqlite:///" + str(tmp_path / "crawl.db")
    monkeypatch.setenv("CRAWLER_STORE_URL", url)
    store = open_store(url)
    try:
        store.put(Record(
            job="docs", url="http://a.example/", final_url="http://a.example/home", status=200, depth=0,
            content_type="text/html", title="Home", outlinks=["http://a.example/x"],
            fetched_at="2026-12-01T10:00:00.123Z", error=None, content_hash="ab" * 20, length=10, elapsed=0.1,
            encoding="utf-8", redirects=["http://a.example/home"],
            warc=WarcPointer("crawl-1.warc.gz", 0, 100, "<urn:uuid:1>", "sha1:AAAA"), etag='"e"',
            last_modified="Tue, 01 Dec 2026 10:00:00 GMT", revisit_interval=3600.0, next_fetch_at=1796119200.0,
            render_time=0.8, render_reason="auto verdict",
            render_evidence={"pages": 3, "plain": {"links": 0, "text": 90}, "rendered": {"links": 36, "text": 10412}},
        ))
    finally:
        store.close()
    return "docs"


def test_the_docs_have_a_field_table():
    assert len(documented_fields()) > 20, f"no field table found in {DOC}"


def test_the_jsonl_export_writes_every_documented_field_and_no_other(stored_job, tmp_path, capsys):
    out = tmp_path / "records.jsonl"

    assert main(["export", "--job", stored_job, "--format", "jsonl", "--output", str(out)]) == 0

    (line,) = out.read_text(encoding="utf-8").splitlines()
    record = json.loads(line)
    assert list(record) == documented_fields()
    assert (record["warc_record_id"], record["warc_digest"]) == ("<urn:uuid:1>", "sha1:AAAA")
    assert (record["revisit_interval"], record["next_fetch_at"]) == (3600.0, 1796119200.0)


def test_the_csv_export_has_a_column_for_every_documented_field_and_no_other(stored_job, tmp_path, capsys):
    out = tmp_path / "records.csv"

    assert main(["export", "--job", stored_job, "--format", "csv", "--output", str(out)]) == 0

    with open(out, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        (row,) = list(reader)
    assert list(reader.fieldnames or []) == documented_fields()
    assert (row["warc_record_id"], row["next_fetch_at"]) == ("<urn:uuid:1>", "1796119200.0")
