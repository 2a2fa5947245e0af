"""The fetcher against a local server: statuses, limits, redirects and the per-hop check."""

from __future__ import annotations

import socket
import time
from datetime import UTC, datetime

import pytest
import requests

from pipeline.crawl.payload import Payload
from pipeline.crawl.steps import to_record
from pipeline.fetch.errors import PermanentFetchError, TransientFetchError
from pipeline.fetch.fetcher import Fetcher, classify, retry_after
from pipeline.fetch.history import Prior
from pipeline.frontier import Lease
from pipeline.settings import Policy
from tests.unit.conftest import BIG_SIZE, PAGE_HTML, PAGE_TITLE, SJIS_TITLE

# The timeout only matters when a test is about it: a loaded machine may take a while to answer.
POLICY = Policy(allow_private=True, timeout=5.0, download_deadline=10.0, max_bytes=100 * 1024, max_redirects=5)
# The slow endpoints take this long in all. A timeout or deadline of under a second that
# works ends the exchange far sooner, so "well under SLOW_SERVER" proves the limit cut it
# while leaving seconds of slack for a loaded machine.
SLOW_SERVER = 30.0
WELL_UNDER = SLOW_SERVER / 3
TRICKLE_EVERY = 0.05  # seconds between two bytes or header lines: far below any read timeout here


@pytest.fixture
def fetcher():
    fetcher = Fetcher()
    yield fetcher
    fetcher.close()


# --- successful fetches ---------------------------------------------------------------


def test_html_page_is_fetched_and_decoded(site, fetcher):
    result = fetcher.fetch(site.url("/html"), POLICY)

    assert result.status == 200
    assert result.error is None
    assert result.url == result.final_url == site.url("/html")
    assert result.redirects == []
    assert result.content_type == "text/html"
    assert PAGE_TITLE in result.text
    assert result.length == len(PAGE_HTML)
    assert result.content_hash is not None and len(result.content_hash) == 40


def test_the_fetcher_knows_when_its_request_went_out_not_when_its_answer_came(site, fetcher):
    before = time.monotonic()
    fetcher.fetch(site.url("/slow-headers?seconds=0.5"), POLICY)

    assert fetcher.sent_at is not None
    assert before <= fetcher.sent_at < before + 0.4, "the request went out before the server's half second"
    with pytest.raises(PermanentFetchError):
        fetcher.fetch("http://[::1", POLICY)
    assert fetcher.sent_at is None, "a fetch that sent nothing says so"


def test_result_is_plain_json_with_an_iso_utc_timestamp(site, fetcher):
    result = fetcher.fetch(site.url("/html"), POLICY)
    data = result.to_json()

    assert data["status"] == 200 and data["final_url"] == site.url("/html")
    stamp = datetime.fromisoformat(data["fetched_at"].replace("Z", "+00:00"))
    assert stamp.utcoffset().total_seconds() == 0
    assert abs((datetime.now(UTC) - stamp).total_seconds()) < 60


def test_header_charset_is_used_to_decode(site, fetcher):
    result = fetcher.fetch(site.url("/sjis"), POLICY)

    assert SJIS_TITLE in result.text


def test_gzip_body_is_decompressed(site, fetcher):
    result = fetcher.fetch(site.url("/gzip-page"), POLICY)

    assert PAGE_TITLE in result.text


def test_non_html_content_is_not_decoded(site, fetcher):
    result = fetcher.fetch(site.url("/plain"), POLICY)

    assert result.status == 200
    assert result.content_type == "text/plain"
    assert result.text is None
    assert result.length > 0


def test_missing_content_type_is_treated_as_html(site, fetcher):
    result = fetcher.fetch(site.url("/untyped"), POLICY)

    assert result.content_type is None
    assert PAGE_TITLE in result.text


def test_same_content_gives_same_hash(site, fetcher):
    first = fetcher.fetch(site.url("/html"), POLICY)
    second = fetcher.fetch(site.url("/gzip-page"), POLICY)
    other = fetcher.fetch(site.url("/plain"), POLICY)

    assert first.content_hash == second.content_hash
    assert first.content_hash != other.content_hash


# --- HTTP errors ----------------------------------------------------------------------


@pytest.mark.parametrize("code", [404, 410, 403])
def test_client_error_is_a_result_not_an_exception(site, fetcher, code):
    result = fetcher.fetch(site.url(f"/status/{code}"), POLICY)

    assert result.status == code
    assert result.error == f"HTTP {code}"
    assert result.text is None


@pytest.mark.parametrize("code", [500, 503, 429, 408])
def test_server_errors_and_throttling_are_transient(site, fetcher, code):
    with pytest.raises(TransientFetchError) as info:
        fetcher.fetch(site.url(f"/status/{code}"), POLICY)

    assert info.value.reason == f"HTTP {code}"
    assert info.value.status == code
    assert info.value.retry_after is None


def test_retry_after_seconds_is_passed_on(site, fetcher):
    with pytest.raises(TransientFetchError) as info:
        fetcher.fetch(site.url("/status/429?retry_after=120"), POLICY)

    assert info.value.retry_after == 120.0


def test_retry_after_http_date_is_passed_on(site, fetcher):
    with pytest.raises(TransientFetchError) as info:
        fetcher.fetch(site.url("/status/503?retry_in=60"), POLICY)

    assert 55 <= info.value.retry_after <= 61


def test_garbage_retry_after_still_gives_a_transient_error(site, fetcher):
    # "\u00b2" reaches the client as the Latin-1 byte 0xB2 ("²"); the 503 must still
    # surface as a retryable error, not as a ValueError that no task retries.
    with pytest.raises(TransientFetchError) as info:
        fetcher.fetch(site.url("/status/503?retry_after=%C2%B2"), POLICY)

    assert info.value.retry_after is None


# --- network failures and limits -----------------------------------------------------


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


def test_connection_refused_is_transient(fetcher):
    with pytest.raises(TransientFetchError) as info:
        fetcher.fetch(f"http://127.0.0.1:{_free_port()}/", POLICY)

    assert info.value.status is None


def test_server_slower_than_timeout_is_transient_timeout(site, fetcher):
    started = time.monotonic()
    with pytest.raises(TransientFetchError) as info:
        fetcher.fetch(site.url(f"/slow-headers?seconds={SLOW_SERVER}"), Policy(allow_private=True, timeout=0.3))

    assert info.value.reason == "timeout"
    assert time.monotonic() - started < WELL_UNDER, "the read timeout ended the wait, not the server"


def test_body_that_stalls_is_transient_timeout(site, fetcher):
    started = time.monotonic()
    with pytest.raises(TransientFetchError) as info:
        fetcher.fetch(site.url(f"/stall-body?seconds={SLOW_SERVER}"), Policy(allow_private=True, timeout=0.3))

    assert info.value.reason == "timeout"
    assert time.monotonic() - started < WELL_UNDER, "the read timeout ended the wait, not the server"


def test_download_deadline_holds_against_a_trickling_server(site, fetcher):
    # A byte every TRICKLE_EVERY never trips the read timeout, but the whole body takes
    # SLOW_SERVER seconds: the wall-clock deadline of 0.5 s must cut the download short.
    policy = Policy(allow_private=True, timeout=1.0, download_deadline=0.5)
    size = round(SLOW_SERVER / TRICKLE_EVERY)
    started = time.monotonic()
    with pytest.raises(TransientFetchError) as info:
        fetcher.fetch(site.url(f"/trickle?size={size}&every={TRICKLE_EVERY}"), policy)

    assert info.value.reason == "download deadline exceeded"
    assert time.monotonic() - started < WELL_UNDER, "the deadline cut the trickle short"


def test_body_larger_than_max_bytes_is_permanent_too_large(site, fetcher):
    with pytest.raises(PermanentFetchError) as info:
        fetcher.fetch(site.url("/big"), Policy(allow_private=True, max_bytes=BIG_SIZE // 2, timeout=5.0))

    assert info.value.reason == "too large"
    assert info.value.status == 200


def test_body_of_exactly_max_bytes_is_kept(site, fetcher):
    result = fetcher.fetch(site.url("/exact/5000"), Policy(allow_private=True, max_bytes=5000, timeout=5.0))

    assert result.length == 5000


def test_gzip_bomb_is_cut_off_after_decompression(site, fetcher):
    started = time.monotonic()
    with pytest.raises(PermanentFetchError) as info:
        fetcher.fetch(site.url("/gzip-bomb"), Policy(allow_private=True, max_bytes=100 * 1024, timeout=5.0))

    assert info.value.reason == "too large"
    assert time.monotonic() - started < 2


# --- redirects ------------------------------------------------------------------------


def test_redirects_are_followed_hop_by_hop(site, fetcher):
    result = fetcher.fetch(site.url("/redirect/3"), POLICY)

    assert result.url == site.url("/redirect/3")
    assert result.final_url == site.url("/html")
    assert result.redirects == [
        site.url("/redirect/2?code=302"),
        site.url("/redirect/1?code=302"),
        site.url("/html"),
    ]
    assert result.status == 200
    assert PAGE_TITLE in result.text
    assert site.requests == ["/redirect/3", "/redirect/2?code=302", "/redirect/1?code=302", "/html"]


@pytest.mark.parametrize("code", [301, 303, 307, 308])
def test_every_redirect_status_is_followed(site, fetcher, code):
    result = fetcher.fetch(site.url(f"/redirect/1?code={code}"), POLICY)

    assert result.final_url == site.url("/html")
    assert result.status == 200


def test_redirect_to_absolute_url_is_canonicalized(site, fetcher):
    target = "HTTP://127.0.0.1:" + site.base.rsplit(":", 1)[1] + "/./x/../html#fragment"
    result = fetcher.fetch(site.url("/redirect-to?to=" + requests.utils.quote(target, safe="")), POLICY)

    assert result.final_url == site.url("/html")


def test_redirect_to_non_http_url_is_permanent(site, fetcher):
    with pytest.raises(PermanentFetchError):
        fetcher.fetch(site.url("/redirect-to?to=mailto%3Ame%40example.com"), POLICY)


def test_redirect_loop_back_to_the_start_is_permanent(site, fetcher):
    with pytest.raises(PermanentFetchError) as info:
        fetcher.fetch(site.url("/loop/a"), POLICY)

    assert info.value.reason == "redirect loop"
    assert site.requests == ["/loop/a", "/loop/b"]


def test_redirect_loop_not_including_the_start_is_permanent(site, fetcher):
    with pytest.raises(PermanentFetchError) as info:
        fetcher.fetch(site.url("/redirect-to?to=%2Floop%2Fa"), POLICY)

    assert info.value.reason == "redirect loop"
    assert site.requests == ["/redirect-to?to=%2Floop%2Fa", "/loop/a", "/loop/b"]


def test_too_many_redirects_is_permanent(site, fetcher):
    with pytest.raises(PermanentFetchError) as info:
        fetcher.fetch(site.url("/redirect/4"), Policy(allow_private=True, timeout=5.0, max_redirects=2))

    assert info.value.reason == "too many redirects"
    assert "/html" not in site.requests
    assert len(site.requests) == 3


def test_exactly_max_redirects_is_allowed(site, fetcher):
    result = fetcher.fetch(site.url("/redirect/2"), Policy(allow_private=True, timeout=5.0, max_redirects=2))

    assert result.final_url == site.url("/html")
    assert len(result.redirects) == 2


def test_check_is_called_on_every_hop(site, fetcher):
    seen: list[str] = []
    result = fetcher.fetch(site.url("/redirect/2"), POLICY, check=seen.append)

    assert seen == [site.url("/redirect/2"), site.url("/redirect/1?code=302"), site.url("/html")]
    assert result.final_url == site.url("/html")


def test_check_refusal_stops_the_fetch_before_the_hop_is_requested(site, fetcher):
    seen: list[str] = []

    def check(url: str) -> None:
        seen.append(url)
        if url.endswith("/html"):
            raise PermanentFetchError("redirect out of scope")

    with pytest.raises(PermanentFetchError) as info:
        fetcher.fetch(site.url("/redirect/2"), POLICY, check=check)

    assert info.value.reason == "redirect out of scope"
    assert seen[-1] == site.url("/html")
    assert site.requests == ["/redirect/2", "/redirect/1?code=302"]


def test_check_refusal_of_the_first_url_sends_nothing(site, fetcher):
    def check(url: str) -> None:
        raise PermanentFetchError("blocked by robots.txt")

    with pytest.raises(PermanentFetchError):
        fetcher.fetch(site.url("/html"), POLICY, check=check)

    assert site.requests == []


# --- small text resources (robots.txt) ----------------------------------------------


def test_get_text_returns_status_and_truncated_text(site, fetcher):
    status, text = fetcher.get_text(site.url("/exact/3000"), POLICY, limit=100)

    assert status == 200
    assert text == "y" * 100


def test_get_text_reports_missing_file_status(site, fetcher):
    status, _ = fetcher.get_text(site.url("/status/404"), POLICY, limit=1000)

    assert status == 404


def test_get_text_network_failure_is_no_status(fetcher):
    assert fetcher.get_text(f"http://127.0.0.1:{_free_port()}/robots.txt", POLICY, 1000) == (None, "")


# --- retry_after and classify ----------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [("120", 120.0), (" 7 ", 7.0), ("0", 0.0), (None, None), ("", None), ("soon", None), ("-5", None)],
)
def test_retry_after_delta_seconds(value, expected):
    assert retry_after(value) == expected


def test_retry_after_http_date_is_seconds_from_now():
    now = datetime(2015, 10, 21, 7, 27, 30, tzinfo=UTC).timestamp()

    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == pytest.approx(30.0)


def test_retry_after_date_in_the_past_is_zero():
    now = datetime(2015, 10, 21, 8, 0, 0, tzinfo=UTC).timestamp()

    assert retry_after("Wed, 21 Oct 2015 07:28:00 GMT", now=now) == 0.0


@pytest.mark.parametrize("value", ["\u00b2", "1\u00b2"])
def test_retry_after_non_ascii_digits_are_ignored_not_a_crash(value):
    # Header values arrive decoded as Latin-1, so a server can send "²" (0xB2), which
    # str.isdigit() accepts but float() rejects: that must not crash the fetch.
    assert retry_after(value) is None


@pytest.mark.parametrize(
    ("exc", "kind", "reason"),
    [
        (requests.ReadTimeout(), TransientFetchError, "timeout"),
        (requests.ConnectTimeout(), TransientFetchError, "timeout"),
        (requests.ConnectionError(), TransientFetchError, "connection error"),
        (requests.exceptions.ContentDecodingError(), PermanentFetchError, "undecodable content encoding"),
        (requests.exceptions.InvalidURL(), PermanentFetchError, None),
        (requests.exceptions.MissingSchema(), PermanentFetchError, None),
    ],
)
def test_classify(exc, kind, reason):
    error = classify(exc)

    assert type(error) is kind
    if reason is not None:
        assert error.reason == reason


def test_download_deadline_holds_while_headers_trickle(site, fetcher):
    # A header line every TRICKLE_EVERY never trips the read timeout, and they go on for
    # SLOW_SERVER seconds: the watchdog must cut the exchange at the deadline.
    policy = Policy(allow_private=True, timeout=1.0, download_deadline=0.5)
    count = round(SLOW_SERVER / TRICKLE_EVERY)
    started = time.monotonic()
    with pytest.raises(TransientFetchError) as info:
        fetcher.fetch(site.url(f"/trickle-headers?count={count}&every={TRICKLE_EVERY}"), policy)

    assert info.value.reason == "download deadline exceeded"
    assert time.monotonic() - started < WELL_UNDER, "the deadline cut the trickle short"


def test_a_kept_alive_connection_outlives_the_deadline_of_an_earlier_fetch(site, fetcher):
    # The first exchange's deadline (2 s: time enough for it on a loaded machine) falls
    # while the second, on the same connection, waits 2.5 s for its headers: the second
    # must not be cut by it.
    quick = Policy(allow_private=True, timeout=5.0, download_deadline=2.0)
    assert fetcher.fetch(site.url("/html"), quick).status == 200

    slow = Policy(allow_private=True, timeout=5.0, download_deadline=10.0)
    assert fetcher.fetch(site.url("/slow-headers?seconds=2.5"), slow).status == 200


def test_stacked_content_encodings_are_capped(site, fetcher):
    policy = Policy(allow_private=True, timeout=5.0)
    assert fetcher.fetch(site.url("/stacked?layers=2"), policy).text.endswith("</html>")

    with pytest.raises(PermanentFetchError) as info:
        fetcher.fetch(site.url("/stacked?layers=6"), policy)
    assert info.value.reason == "undecodable content encoding"


def test_the_validators_of_a_response_are_kept_for_the_next_fetch(site, fetcher):
    policy = Policy(allow_private=True, timeout=5.0)
    result = fetcher.fetch(site.url("/validated"), policy)
    plain = fetcher.fetch(site.url("/html"), policy)

    assert (result.etag, result.last_modified) == ('"v1"', "Sun, 22 Nov 2026 10:00:00 GMT")
    assert (plain.etag, plain.last_modified) == (None, None)
    record = to_record(Payload("j", Lease(url=result.url, depth=0, host="h", token=1), result), policy)
    assert (record.etag, record.first_fetched_at, record.changed_at) == ('"v1"', result.fetched_at, result.fetched_at)


def test_a_revisit_asks_conditionally_and_a_304_brings_no_content(site, fetcher):
    policy = Policy(allow_private=True, timeout=5.0)
    first = fetcher.fetch(site.url("/validated"), policy)
    prior = Prior(first.final_url, first.fetched_at, etag=first.etag, last_modified=first.last_modified,
                  content_hash=first.content_hash)

    again = fetcher.fetch(site.url("/validated"), policy, prior=prior)

    assert (again.status, again.error, again.text, again.content_hash, again.length) == (304, None, None, None, 0)
    assert again.etag == '"v1"'
    record = to_record(Payload("j", Lease(url=again.url, depth=0, host="h", token=1, prior=prior), again), policy)
    assert (record.status, record.content_hash) == (304, None), "the store keeps the content of the last 200"


def test_only_the_url_that_answered_last_time_is_asked_conditionally(site, fetcher):
    """The validators belong to the end of the redirects: the hops before it, and a URL that
    now redirects elsewhere, are asked plainly."""
    policy = Policy(allow_private=True, timeout=5.0)
    target = site.url("/validated")
    prior = Prior(target, "2026-12-01T00:00:00.000Z", etag='"v1"', last_modified="Sun, 22 Nov 2026 10:00:00 GMT")

    through = fetcher.fetch(site.url(f"/redirect-to?to={target}"), policy, prior=prior)
    elsewhere = fetcher.fetch(target, policy, prior=Prior(site.url("/html"), prior.fetched_at, etag='"v1"'))

    assert (through.status, through.redirects) == (304, [target])
    assert elsewhere.status == 200
