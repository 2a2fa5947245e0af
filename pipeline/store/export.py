"""Exporting a job's records as JSON Lines or CSV: every field the store keeps of a record but its
job (the export is of one job), in the store's order, so the fields every export has (EXPORT_FIELDS)
come first and the WARC pointer is in its flat fields (warc_file ... warc_digest). docs/records.md
lists them, and a test holds the two together."""

from __future__ import annotations

import csv
import json
from collections.abc import Callable, Iterable
from typing import Any, TextIO

from pipeline.store.base import COLUMNS, Item, Record

FORMATS = ("jsonl", "csv")
RECORD_FIELDS = tuple(name for name in COLUMNS if name != "job")


def export(records: Iterable[Record], out: TextIO, fmt: str) -> int:
    """Write `records` to `out` in `fmt`; returns how many were written."""
    writer = {"jsonl": _jsonl, "csv": _csv}[fmt]
    return writer(records, out)


def _row(record: Record) -> dict[str, Any]:
    data = record.to_json()
    return {name: data[name] for name in RECORD_FIELDS}


def _jsonl(records: Iterable[Record], out: TextIO) -> int:
    count = 0
    for record in records:
        out.write(json.dumps(_row(record), ensure_ascii=False) + "\n")
        count += 1
    return count


def _csv(records: Iterable[Record], out: TextIO) -> int:
    writer = csv.DictWriter(out, fieldnames=RECORD_FIELDS)
    writer.writeheader()
    count = 0
    for record in records:
        row = _row(record)
        row["outlinks"] = " ".join(row["outlinks"])
        row["redirects"] = " ".join(row["redirects"])
        if row["render_evidence"] is not None:
            row["render_evidence"] = json.dumps(row["render_evidence"])
        writer.writerow(row)
        count += 1
    return count


Items = Callable[[], Iterable[tuple[str, Item]]]
# The items CSV's own first columns, which an item's keys of the same name must not take.
_ITEM_CSV_OWN = frozenset({"url", "extractor"})


def export_items(items: Items, out: TextIO, fmt: str) -> int:
    """Write the items of a job (`items` lists them afresh each time it is called), one
    per line (JSON Lines) or row (CSV); returns how many."""
    writer = {"jsonl": _items_jsonl, "csv": _items_csv}[fmt]
    return writer(items, out)


def _items_jsonl(items: Items, out: TextIO) -> int:
    count = 0
    for url, item in items():
        out.write(json.dumps({"url": url, "extractor": item.extractor, "item": item.data}, ensure_ascii=False) + "\n")
        count += 1
    return count


def _items_csv(items: Items, out: TextIO) -> int:
    """`url`, `extractor`, then every key any item has, in the order first seen; nested
    values as JSON text. An item's own `url` or `extractor` (a link it found) is the
    column `item.url` or `item.extractor`, so the page's stay what they say. The columns
    are only known once every item has been seen, so the items are read twice rather
    than held in memory."""
    keys = list(dict.fromkeys(_column(key) for _, item in items() for key in item.data))
    writer = csv.DictWriter(out, fieldnames=["url", "extractor", *keys])
    writer.writeheader()
    count = 0
    for url, item in items():
        values = {_column(key): _cell(value) for key, value in item.data.items()}
        writer.writerow({**values, "url": url, "extractor": item.extractor})
        count += 1
    return count


def _column(key: str) -> str:
    return f"item.{key}" if key in _ITEM_CSV_OWN else key


def _cell(value: Any) -> Any:
    return json.dumps(value, ensure_ascii=False) if isinstance(value, (dict, list)) else value
