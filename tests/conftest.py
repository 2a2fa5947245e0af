"""Test-wide settings: integration tests use a dedicated Redis database (15 unless
CRAWLER_TEST_REDIS_URL says otherwise) and short timeouts, for this process and for the
worker processes it starts. Set before anything reads Settings."""

import os

TEST_REDIS_URL = os.environ.get("CRAWLER_TEST_REDIS_URL", "redis://127.0.0.1:6379/15")

os.environ.update(
    CRAWLER_REDIS_URL=TEST_REDIS_URL,
    CRAWLER_TIMEOUT="3",
    CRAWLER_DOWNLOAD_DEADLINE="5",
    CRAWLER_LEASE_TIMEOUT="30",
    CRAWLER_DISPATCH_INTERVAL="0.5",
    CRAWLER_TASK_EVENTS="false",
    # Sitemap discovery adds a /sitemap.xml record per host; the tests that are about
    # sitemaps (and the demo) switch it on.
    CRAWLER_SITEMAPS="false",
)
