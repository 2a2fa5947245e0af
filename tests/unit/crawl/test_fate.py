"""The retry rules of pipeline.crawl.fate, which need no services: how long a URL waits
before its next attempt, and how a transient failure counts against its host."""

from __future__ import annotations

import pytest

from pipeline.crawl.fate import backoff, host_failure
from pipeline.fetch import TransientFetchError
from pipeline.frontier import Failure
from pipeline.settings import Policy

POLICY = Policy(retry_backoff=2.0, retry_backoff_max=60.0, max_retry_after=120.0)


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
    [TransientFetchError("HTTP 503", 503), TransientFetchError("HTTP 429", 429),
     TransientFetchError("connection error")],
    ids=lambda failure: failure.reason,
)
def test_a_hosts_failure_pauses_it_for_the_backoff(failure):
    assert host_failure(failure, POLICY, 3.0) == Failure(failure.reason, 3.0, host_level=True)


def test_a_retry_after_pauses_the_host_for_as_long_up_to_its_cap():
    failure = TransientFetchError("HTTP 503", 503, retry_after=300.0)

    assert host_failure(failure, POLICY, 3.0) == Failure("HTTP 503, Retry-After", 120.0, host_level=True)


@pytest.mark.parametrize(
    "failure", [TransientFetchError("HTTP 500", 500), TransientFetchError("timeout")],
    ids=lambda failure: failure.reason,
)
def test_one_urls_failure_does_not_pause_its_host_by_itself(failure):
    assert host_failure(failure, POLICY, 3.0) == Failure(failure.reason, 3.0, host_level=False)
