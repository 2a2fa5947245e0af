"""A host name that does not resolve is `DNS lookup failed`, whatever the flags: a name
that does not exist will not exist on a retry, so the URL is recorded at once, without
the retries and their backoff a network failure gets, and its robots.txt is not blamed.
The reserved `.invalid` top-level domain never resolves (RFC 6761), without any network."""

from __future__ import annotations

import time
from pathlib import Path

import pytest

from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import CRAWL_TIMEOUT, announced_job, cli_env, crawler, describe, export_jsonl, summary

pytestmark = pytest.mark.integration

URL = "http://no-such-host.invalid/"
# A retry would wait at least half of this (the backoff is a random 50-100% of it).
BACKOFF = 60.0


@pytest.mark.parametrize(
    "flags", [(), ("--allow-private",), ("--no-robots",), ("--allow-private", "--no-robots")], ids=" ".join
)
def test_a_name_that_does_not_resolve_is_dns_lookup_failed_at_once(
    workdir: Path, redis_client: object, flags: tuple[str, ...]
) -> None:
    env = cli_env(TEST_REDIS_URL, CRAWLER_MAX_RETRIES="2", CRAWLER_RETRY_BACKOFF=str(BACKOFF),
                  CRAWLER_RETRY_BACKOFF_MAX=str(BACKOFF))
    started = time.monotonic()

    result = crawler(workdir, "crawl", URL, "--workers", "1", "--no-report", *flags, env=env, timeout=CRAWL_TIMEOUT)

    took = time.monotonic() - started
    assert result.returncode == 1, describe(result, workdir)
    assert f"seed {URL} failed: DNS lookup failed" in summary(result)
    job = announced_job(result)
    (record,) = export_jsonl(workdir, job, env=env)
    assert (record["url"], record["status"], record["error"]) == (URL, None, "DNS lookup failed"), record
    assert record["fetch_count"] == 1
    assert took < BACKOFF / 2, f"the crawl took {took:.0f} s: the URL was retried"
