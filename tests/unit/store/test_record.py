"""A record's WARC pointer is one value in the crawl and five columns in the store and
the export, named and placed as they were before it was one value."""

from __future__ import annotations

import csv
import io
import json
from dataclasses import replace

from pipeline.fetch import REVISIT_NOT_MODIFIED, WarcPointer
from pipeline.store import Record, open_store
from pipeline.store.export import export
from pipeline.store.schema import COLUMNS

POINTER = WarcPointer("crawl-1.warc.gz", 1024, 512, "<urn:uuid:1>", "sha1:AAAA")
# The table's columns as schema 6 made them, before the pointer was one value.
SCHEMA_6_COLUMNS = (
    "job", "url", "final_url", "status", "depth", "content_type", "title", "outlinks", "fetched_at", "error", "kind",
    "content_hash", "length", "elapsed", "encoding", "redirects", "warc_file", "warc_offset", "warc_length",
    "extract_error", "etag", "last_modified", "fetch_count", "first_fetched_at", "changed_at", "revisit",
    "warc_record_id", "warc_digest", "revisit_interval", "next_fetch_at",
)
# Schema 7 adds one column at the end, schema 8 two more; the ones before keep their places.
SCHEMA_7_COLUMNS = (*SCHEMA_6_COLUMNS, "render_time")
SCHEMA_8_COLUMNS = (*SCHEMA_7_COLUMNS, "render_reason", "render_evidence")
EVIDENCE = {"pages": 1, "plain": {"links": 0, "text": 12}, "rendered": {"links": 4, "text": 480}}


def _record(**changes: object) -> Record:
    record = Record(job="j", url="http://a.example/", final_url="http://a.example/", status=200, depth=0,
                    content_type="text/html", title="t", outlinks=[], fetched_at="2026-12-01T00:00:00.000Z",
                    error=None, warc=POINTER)
    return replace(record, **changes)


def test_the_store_keeps_the_columns_it_had():
    assert COLUMNS == SCHEMA_8_COLUMNS
    assert tuple(_record().to_json()) == SCHEMA_8_COLUMNS


def test_a_rendered_pages_reason_and_evidence_come_back_from_the_store_and_the_export(tmp_path):
    rendered = _record(render_time=0.8, render_reason="auto sample", render_evidence=EVIDENCE)
    store = open_store("sqlite:///" + str(tmp_path / "crawl.db"))
    try:
        store.put(rendered)
        assert list(store.records("j")) == [rendered]
    finally:
        store.close()
    lines, table = io.StringIO(), io.StringIO()
    export([rendered], lines, "jsonl")
    export([rendered], table, "csv")

    assert json.loads(lines.getvalue())["render_evidence"] == EVIDENCE
    (row,) = csv.DictReader(io.StringIO(table.getvalue()))
    assert (row["render_reason"], json.loads(row["render_evidence"])) == ("auto sample", EVIDENCE)


def test_the_pointer_is_five_flat_fields_and_comes_back_whole(tmp_path):
    data = _record().to_json()

    assert (data["warc_file"], data["warc_offset"], data["warc_length"], data["warc_record_id"],
            data["warc_digest"]) == ("crawl-1.warc.gz", 1024, 512, "<urn:uuid:1>", "sha1:AAAA")
    assert Record.from_json(data) == _record()
    bare = _record(warc=None).to_json()
    assert bare["warc_file"] is None and Record.from_json(bare).warc is None
    store = open_store("sqlite:///" + str(tmp_path / "crawl.db"))
    try:
        store.put(_record(warc=replace(POINTER, revisit=REVISIT_NOT_MODIFIED)))
        assert list(store.records("j")) == [_record()], "the revisit profile is not kept"
    finally:
        store.close()


def test_the_export_writes_the_pointer_in_its_flat_fields():
    out = io.StringIO()
    export([_record()], out, "jsonl")

    line = json.loads(out.getvalue())
    assert (line["warc_file"], line["warc_offset"], line["warc_length"]) == ("crawl-1.warc.gz", 1024, 512)
    assert (line["warc_record_id"], line["warc_digest"]) == ("<urn:uuid:1>", "sha1:AAAA")
    assert "warc" not in line
