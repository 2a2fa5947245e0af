"""Exporting a job's records as JSON Lines or CSV, with the fields of DESIGN.md first."""

from __future__ import annotations

import csv
import json
from collections.abc import Iterable
from typing import Any, TextIO

from pipeline.store.base import EXPORT_FIELDS, Record

FORMATS = ("jsonl", "csv")
_EXTRA_FIELDS = (
    "kind", "content_hash", "length", "elapsed", "encoding", "redirects", "warc_file", "warc_offset", "warc_length"
)


def export(records: Iterable[Record], out: TextIO, fmt: str) -> int:
    """Write `records` to `out` in `fmt`; returns how many were written."""
    writer = {"jsonl": _jsonl, "csv": _csv}[fmt]
    return writer(records, out)


def _row(record: Record) -> dict[str, Any]:
    data = record.to_json()
    return {name: data[name] for name in EXPORT_FIELDS + _EXTRA_FIELDS}


def _jsonl(records: Iterable[Record], out: TextIO) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(_row(record), ensure_ascii=False) + "\n")
        count += 1
    return count


def _csv(records: Iterable[Record], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=EXPORT_FIELDS + _EXTRA_FIELDS)
    writer.writeheader()
    count = 0
    for record in records:
        row = _row(record)
        row["outlinks"] = " ".join(row["outlinks"])
        row["redirects"] = " ".join(row["redirects"])
        writer.writerow(row)
        count += 1
    return count
