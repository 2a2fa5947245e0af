"""The retry table of pipeline.crawl.fate, which needs no services: how long a URL waits
before its next attempt, and which failures pause its whole host."""

from __future__ import annotations

import pytest

from pipeline.crawl.fate import backoff, pauses_host
from pipeline.fetch import TransientFetchError
from pipeline.settings import Policy

POLICY = Policy(retry_backoff=2.0, retry_backoff_max=60.0)


@pytest.mark.parametrize("attempt", [0, 1, 2, 3])
def test_backoff_doubles_with_jitter(attempt):
    waits = [backoff(attempt, POLICY) for _ in range(200)]

    assert min(waits) >= 0.5 * 2.0 * 2**attempt
    assert max(waits) <= 2.0 * 2**attempt
    assert len(set(waits)) > 1, "jitter spreads the retries of many URLs"


def test_backoff_never_passes_its_cap():
    assert backoff(30, POLICY) == 60.0
    assert backoff(5000, POLICY) == 60.0, "a huge attempt number is still a number of seconds"


def test_a_retry_after_is_waited_for_up_to_the_cap():
    assert backoff(0, POLICY, retry_after=20.0) == 20.0
    assert backoff(0, POLICY, retry_after=600.0) == 60.0


@pytest.mark.parametrize(
    "failure",
    [
        TransientFetchError("timeout"),
        TransientFetchError("connection error"),
        TransientFetchError("HTTP 503", 503),
        TransientFetchError("HTTP 429", 429, retry_after=30.0),
    ],
    ids=lambda failure: failure.reason,
)
def test_every_transient_failure_pauses_its_host(failure):
    assert pauses_host(failure)
