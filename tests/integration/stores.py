"""What the store tests share: the PostgreSQL they use, and the records they store."""

from __future__ import annotations

import dataclasses
import os

from pipeline.store import Record

POSTGRES_URL = os.environ.get("CRAWLER_TEST_POSTGRES_URL", "postgresql://postgres@127.0.0.1:5432/test")


def a_page(job: str, url: str, title: str, outlinks: list[str]) -> Record:
    """A page of `job` answering 200, fetched at midnight on 2026-11-22."""
    return Record(job=job, url=url, final_url=url, status=200, depth=1, content_type="text/html", title=title,
                  outlinks=outlinks, fetched_at="2026-11-22T00:00:00Z", error=None, redirects=[url + "?r"])


def later(record: Record, seconds: int, **changes: object) -> Record:
    """`record` fetched again `seconds` later (fetched_at of a_page is midnight)."""
    return dataclasses.replace(record, fetched_at=f"2026-11-22T00:00:{seconds:02d}Z", **changes)
