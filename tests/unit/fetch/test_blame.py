"""The blame table: which transient failures pause their whole host (the server is
overloaded, asks for a pause, or cannot be reached) and which only send their URL round
again (one page errs or answers slowly), told from the errors the fetcher raises."""

from __future__ import annotations

import pytest
import requests

from pipeline.fetch import Blame, Signal, TransientFetchError, blame
from pipeline.fetch.blame import SIGNALS, signal
from pipeline.fetch.fetcher import classify


def raised(network: requests.RequestException) -> TransientFetchError:
    """The error the fetcher raises for `network`, with it as the cause."""
    try:
        try:
            raise network
        except requests.RequestException as exc:
            raise classify(exc) from exc
    except TransientFetchError as error:
        return error


HOST_FAILURES = {
    "429": (TransientFetchError("HTTP 429", 429), Signal.TOO_MANY_REQUESTS),
    "503": (TransientFetchError("HTTP 503", 503), Signal.UNAVAILABLE),
    "503 with Retry-After": (TransientFetchError("HTTP 503", 503, retry_after=30.0), Signal.RETRY_AFTER),
    "500 with Retry-After": (TransientFetchError("HTTP 500", 500, retry_after=5.0), Signal.RETRY_AFTER),
    "connection refused": (raised(requests.ConnectionError("refused")), Signal.CONNECT_FAILED),
    "connect timeout": (raised(requests.ConnectTimeout("slow connect")), Signal.CONNECT_TIMEOUT),
    "reset while reading": (TransientFetchError("connection error", 200), Signal.CONNECT_FAILED),
    "DNS": (TransientFetchError("DNS lookup failed temporarily"), Signal.DNS),
    "proxy tunnel": (TransientFetchError("the proxy could not reach the site (CONNECT: 502)"), Signal.PROXY_TUNNEL),
}
URL_FAILURES = {
    "500": (TransientFetchError("HTTP 500", 500), Signal.SERVER_ERROR),
    "502": (TransientFetchError("HTTP 502", 502), Signal.SERVER_ERROR),
    "504": (TransientFetchError("HTTP 504", 504), Signal.SERVER_ERROR),
    "408": (TransientFetchError("HTTP 408", 408), Signal.SERVER_ERROR),
    "read timeout": (raised(requests.ReadTimeout("slow answer")), Signal.READ_TIMEOUT),
    "timeout while reading the body": (TransientFetchError("timeout", 200), Signal.READ_TIMEOUT),
    "download deadline": (TransientFetchError("download deadline exceeded", 200), Signal.DEADLINE),
    "anything else": (TransientFetchError("something new"), Signal.OTHER),
}


@pytest.mark.parametrize(("failure", "expected"), HOST_FAILURES.values(), ids=HOST_FAILURES)
def test_the_hosts_failures_pause_the_host(failure, expected):
    assert signal(failure) == expected
    assert blame(failure) == Blame.HOST


@pytest.mark.parametrize(("failure", "expected"), URL_FAILURES.values(), ids=URL_FAILURES)
def test_one_urls_failures_are_that_urls(failure, expected):
    assert signal(failure) == expected
    assert blame(failure) == Blame.URL


def test_the_table_blames_every_signal():
    assert set(SIGNALS) == set(Signal)
