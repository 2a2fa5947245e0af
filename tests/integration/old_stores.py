"""The tables and rows of stores made by older crawlers, as their own DDL made them: the
fixtures test_store_schema.py opens with today's code. Plain data, kept apart from the
tests that read it."""

from __future__ import annotations

# The tables as the first release made them, copied from it: the fixtures of old stores.
LEGACY_SQLITE = """
CREATE TABLE IF NOT EXISTS pages (
    job TEXT NOT NULL,
    url TEXT NOT NULL,
    final_url TEXT NOT NULL,
    status INTEGER,
    depth INTEGER NOT NULL,
    content_type TEXT,
    title TEXT,
    outlinks TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    error TEXT,
    content_hash TEXT,
    length INTEGER NOT NULL DEFAULT 0,
    elapsed REAL NOT NULL DEFAULT 0,
    encoding TEXT,
    redirects TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (job, url)
)
"""
LEGACY_POSTGRES = """
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
# Rows an old crawl left, in this order: a page, a failure, and a sitemap named the old way.
LEGACY_ROWS = [
    ("old", "http://a.example/2", "http://a.example/2", 200, 1, "text/html", "two", '["http://a.example/1"]',
     "2026-11-01T10:00:00Z", None, "ab" * 20, 120, 0.25, "utf-8", '["http://a.example/r"]'),
    ("old", "http://a.example/1", "http://a.example/1", None, 0, None, None, "[]",
     "2026-11-01T10:00:01Z", "timeout", None, 0, 0.0, None, "[]"),
    ("old", "sitemap:http://a.example/sitemap.xml", "http://a.example/sitemap.xml", 200, 0, "application/xml", None,
     '["http://a.example/2"]', "2026-11-01T10:00:02Z", None, None, 80, 0.01, None, "[]"),
]
LEGACY_COLUMNS = ("job, url, final_url, status, depth, content_type, title, outlinks, fetched_at, error, "
                  "content_hash, length, elapsed, encoding, redirects")


# The table of schema 3 (no extract_error, no items table), as its create_table made it.
SCHEMA_3_SQLITE = """
CREATE TABLE pages (
    job TEXT NOT NULL,
    url TEXT NOT NULL,
    final_url TEXT NOT NULL,
    status INTEGER,
    depth INTEGER NOT NULL,
    content_type TEXT,
    title TEXT,
    outlinks TEXT NOT NULL,
    fetched_at TEXT NOT NULL,
    error TEXT,
    kind TEXT NOT NULL DEFAULT 'page',
    content_hash TEXT,
    length INTEGER NOT NULL DEFAULT 0,
    elapsed REAL NOT NULL DEFAULT 0.0,
    encoding TEXT,
    redirects TEXT NOT NULL DEFAULT '[]',
    warc_file TEXT,
    warc_offset INTEGER,
    warc_length INTEGER,
    PRIMARY KEY (job, url, kind)
)
"""
SCHEMA_3_POSTGRES = """
CREATE TABLE pages (
    id BIGSERIAL,
    job TEXT NOT NULL,
    url TEXT NOT NULL,
    final_url TEXT NOT NULL,
    status BIGINT,
    depth BIGINT NOT NULL,
    content_type TEXT,
    title TEXT,
    outlinks JSONB NOT NULL,
    fetched_at TEXT NOT NULL,
    error TEXT,
    kind TEXT NOT NULL DEFAULT 'page',
    content_hash TEXT,
    length BIGINT NOT NULL DEFAULT 0,
    elapsed DOUBLE PRECISION NOT NULL DEFAULT 0.0,
    encoding TEXT,
    redirects JSONB NOT NULL DEFAULT '[]',
    warc_file TEXT,
    warc_offset BIGINT,
    warc_length BIGINT,
    PRIMARY KEY (job, url, kind)
)
"""
# Rows a schema-3 crawl left: a sitemap, a page written to WARC, and the page at the sitemap's URL.
SCHEMA_3_ROWS = [
    ("old", "http://a.example/sitemap.xml", "http://a.example/sitemap.xml", 200, 0, "application/xml", None,
     '["http://a.example/2"]', "2026-11-01T10:00:00Z", None, "sitemap", None, 80, 0.01, None, "[]", None, None, None),
    ("old", "http://a.example/2", "http://a.example/2", 200, 1, "text/html", "two", "[]", "2026-11-01T10:00:01Z",
     None, "page", None, 120, 0.25, "utf-8", "[]", "crawl-1.warc.gz", 0, 512),
    ("old", "http://a.example/sitemap.xml", "http://a.example/sitemap.xml", 200, 1, "text/html", "map", "[]",
     "2026-11-01T10:00:02Z", None, "page", None, 90, 0.02, None, "[]", None, None, None),
]
SCHEMA_3_COLUMNS = ("job, url, final_url, status, depth, content_type, title, outlinks, fetched_at, error, kind, "
                    "content_hash, length, elapsed, encoding, redirects, warc_file, warc_offset, warc_length")
ITEM_COLUMNS = ["job", "url", "kind", "extractor", "seq", "item"]


# The tables of schema 5 (the fetch history, no revisit schedule, no pages_due index), as
# its create_table and create_items_table made them.
SCHEMA_5_SQLITE = (
    SCHEMA_3_SQLITE.replace(
        "    PRIMARY KEY (job, url, kind)",
        """    extract_error TEXT,
    etag TEXT,
    last_modified TEXT,
    fetch_count INTEGER NOT NULL DEFAULT 1,
    first_fetched_at TEXT,
    changed_at TEXT,
    revisit TEXT,
    PRIMARY KEY (job, url, kind)""",
    ),
    """
CREATE TABLE IF NOT EXISTS items (
    job TEXT NOT NULL,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    extractor TEXT NOT NULL,
    seq INTEGER NOT NULL,
    item TEXT NOT NULL,
    PRIMARY KEY (job, url, kind, seq)
)
""",
)
SCHEMA_5_POSTGRES = (
    SCHEMA_3_POSTGRES.replace(
        "    PRIMARY KEY (job, url, kind)",
        """    extract_error TEXT,
    etag TEXT,
    last_modified TEXT,
    fetch_count BIGINT NOT NULL DEFAULT 1,
    first_fetched_at TEXT,
    changed_at TEXT,
    revisit TEXT,
    PRIMARY KEY (job, url, kind)""",
    ),
    """
CREATE TABLE IF NOT EXISTS items (
    job TEXT NOT NULL,
    url TEXT NOT NULL,
    kind TEXT NOT NULL,
    extractor TEXT NOT NULL,
    seq BIGINT NOT NULL,
    item JSONB NOT NULL,
    PRIMARY KEY (job, url, kind, seq)
)
""",
)
# Rows a schema-5 crawl left: a page fetched twice, written to WARC, with an item; and a sitemap.
SCHEMA_5_ROWS = [
    SCHEMA_3_ROWS[1] + (None, '"1"', "Sun, 01 Nov 2026 10:00:00 GMT", 2, "2026-10-01T10:00:00Z",
                        "2026-10-01T10:00:00Z", "unchanged"),
    SCHEMA_3_ROWS[0] + (None, None, None, 1, "2026-11-01T10:00:00Z", None, None),
]
SCHEMA_5_COLUMNS = (f"{SCHEMA_3_COLUMNS}, extract_error, etag, last_modified, fetch_count, first_fetched_at, "
                    "changed_at, revisit")
REVISIT_COLUMNS = ["warc_record_id", "warc_digest", "revisit_interval", "next_fetch_at"]
# What later schemas added after them (7: render_time; 8: render_reason, render_evidence), last.
LATER_COLUMNS = ["render_time", "render_reason", "render_evidence"]
