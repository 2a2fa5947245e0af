"""Whose failure a transient fetch failure is: its host's (the server is overloaded,
asks for a pause, or cannot be reached: every worker leaves the host alone for a while)
or its URL's (one page errs or answers slowly: that URL is retried later and the host's
other URLs go on). One table, SIGNALS, decides; it lives beside the fetch errors because
telling the signals apart reads what only the fetch knows (status codes, the network
library's exception types), while the crawl acts on the verdict."""

from __future__ import annotations

from enum import StrEnum

import requests

from pipeline.fetch.errors import TransientFetchError


class Blame(StrEnum):
    HOST = "host"
    URL = "url"


class Signal(StrEnum):
    """What a transient failure says about the server, as far as one response tells."""

    RETRY_AFTER = "a Retry-After header"
    TOO_MANY_REQUESTS = "HTTP 429"
    UNAVAILABLE = "HTTP 503"
    CONNECT_FAILED = "connection refused or reset"
    CONNECT_TIMEOUT = "connect timeout"
    DNS = "DNS lookup failed temporarily"
    PROXY_TUNNEL = "the proxy could not reach the site"
    SERVER_ERROR = "another HTTP 5xx or 408"
    READ_TIMEOUT = "read timeout (a slow answer)"
    DEADLINE = "download deadline exceeded"
    OTHER = "any other transient failure"


SIGNALS: dict[Signal, Blame] = {
    Signal.RETRY_AFTER: Blame.HOST,
    Signal.TOO_MANY_REQUESTS: Blame.HOST,
    Signal.UNAVAILABLE: Blame.HOST,
    Signal.CONNECT_FAILED: Blame.HOST,
    Signal.CONNECT_TIMEOUT: Blame.HOST,
    Signal.DNS: Blame.HOST,
    Signal.PROXY_TUNNEL: Blame.HOST,
    Signal.SERVER_ERROR: Blame.URL,
    Signal.READ_TIMEOUT: Blame.URL,
    Signal.DEADLINE: Blame.URL,
    Signal.OTHER: Blame.URL,
}

# The reasons the fetch gives the failures it raises without a network exception behind them.
_BY_REASON = {
    "timeout": Signal.READ_TIMEOUT,
    "connection error": Signal.CONNECT_FAILED,
    "download deadline exceeded": Signal.DEADLINE,
    "DNS lookup failed temporarily": Signal.DNS,
}


def signal(exc: TransientFetchError) -> Signal:
    """The signal of a transient failure: the server's answer when there was one, else
    the network exception behind it, else its reason."""
    if exc.retry_after is not None:
        return Signal.RETRY_AFTER
    if exc.status == 429:
        return Signal.TOO_MANY_REQUESTS
    if exc.status == 503:
        return Signal.UNAVAILABLE
    if exc.status is not None and (exc.status == 408 or exc.status >= 500):
        return Signal.SERVER_ERROR
    cause = exc.__cause__
    # ConnectTimeout is both a ConnectionError and a Timeout: it is asked about first.
    if isinstance(cause, requests.ConnectTimeout):
        return Signal.CONNECT_TIMEOUT
    if isinstance(cause, requests.Timeout):
        return Signal.READ_TIMEOUT
    if exc.reason.startswith("the proxy could not reach the site"):
        return Signal.PROXY_TUNNEL
    if isinstance(cause, requests.ConnectionError):
        return Signal.CONNECT_FAILED
    return _BY_REASON.get(exc.reason, Signal.OTHER)


def blame(exc: TransientFetchError) -> Blame:
    """Whether `exc` pauses its host for every worker or only sends its URL round again."""
    return SIGNALS[signal(exc)]
