"""HTTP fetching within limits.

Each worker thread has its own ``requests.Session``; their connections are kept alive in
the process's shared pools (pipeline/fetch/connections.py). Redirects are
followed by hand so that every hop passes the caller's checks (scope, robots, address
guard) before it is requested; the body is streamed so the size cap and the wall-clock
deadline hold however the server behaves.

With an archive, every exchange (redirect hops, error pages, robots.txt, sitemaps) is
handed to it with the bytes the server sent (pipeline/fetch/body.py reads them as received).
"""

from __future__ import annotations

import hashlib
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, replace
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import requests
from urllib3.exceptions import LocationParseError

from pipeline.fetch.body import Body, read_body
from pipeline.fetch.connections import Pools, once_more_if_dropped
from pipeline.fetch.deadline import deadline as exchange_deadline
from pipeline.fetch.encoding import decode_html
from pipeline.fetch.errors import ArchiveUnavailable, PermanentFetchError, TransientFetchError
from pipeline.fetch.exchange import (
    TRUNCATED_LENGTH,
    Archive,
    Exchange,
    Reference,
    WarcPointer,
)
from pipeline.fetch.failover import Failover
from pipeline.fetch.guard import check_url, lookup_error_in, lookup_failed
from pipeline.fetch.history import NOT_MODIFIED, Prior
from pipeline.fetch.proxies import ProxyRotation
from pipeline.fetch.result import FetchResult
from pipeline.settings import Policy
from pipeline.urls import canonicalize

# The codings the fetcher decodes itself; requests would advertise brotli or zstd too
# when their modules happen to be installed.
ACCEPT_ENCODING = "gzip, deflate"
# Bodies of redirects and error pages up to this size are read, to keep the connection.
DRAIN_BYTES = 64 * 1024
TRANSIENT_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
# Hosts whose idle connections a fetcher made on its own (a test's, a tool's) keeps.
OWN_POOL_HOSTS = 10

HopCheck = Callable[[str], None]


def classify(exc: requests.RequestException) -> TransientFetchError | PermanentFetchError:
    """Network trouble is worth retrying; a name that does not resolve, or a request the
    library refuses to send, is not."""
    lookup = lookup_error_in(exc)
    if lookup is not None:
        return lookup_failed(lookup)
    if isinstance(exc, requests.Timeout):
        return TransientFetchError("timeout")
    if isinstance(exc, requests.ConnectionError):
        return TransientFetchError("connection error")
    if isinstance(exc, requests.exceptions.ContentDecodingError):
        return PermanentFetchError("undecodable content encoding")
    return PermanentFetchError(f"bad request: {type(exc).__name__}")


def retry_after(value: str | None, now: float | None = None) -> float | None:
    """Seconds asked for by a Retry-After header (delta-seconds or an HTTP date)."""
    if not value:
        return None
    value = value.strip()
    if value.isascii() and value.isdigit():
        return float(value)
    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    now = time.time() if now is None else now
    return max(0.0, when.timestamp() - now)


class _Session(requests.Session):
    """Redirects are followed by the fetcher, hop by hop. requests would still read a
    redirect's whole body, without a size cap or a deadline, to prepare `Response.next`
    (which nothing here uses), and so take it from the archive and the connection's
    address from its record."""

    def resolve_redirects(self, *args: Any, **kwargs: Any) -> Generator[requests.Response, None, None]:
        yield from ()


@dataclass(frozen=True)
class _Sent:
    """When the current request went out, to which address, and the archived response
    of the last fetch it revalidates."""

    date: str
    ip: str | None
    refers_to: Reference | None = None


class Fetcher:
    """Fetches one URL at a time for one worker thread, over kept-alive connections.

    Two sessions: one whose connections pass the address guard, and a plain one for
    jobs that allow private addresses. Their connections are kept in `pools`, which the
    threads of a worker process share (without, the fetcher keeps its own). With
    `proxies`, every request, robots.txt and redirect hops included, goes out through
    one of them. With `archive`, every exchange is handed to it as it ends."""

    def __init__(
        self, proxies: ProxyRotation | None = None, archive: Archive | None = None, pools: Pools | None = None
    ) -> None:
        self._sessions: dict[bool, requests.Session] = {}
        self.proxies = proxies
        self.archive = archive
        self._own_pools = pools is None
        self.pools = Pools(OWN_POOL_HOSTS) if pools is None else pools
        self._sent = _Sent("", None)
        # When (time.monotonic) the current fetch's last request went out; None before.
        self.sent_at: float | None = None

    def session(self, policy: Policy) -> requests.Session:
        if policy.allow_private not in self._sessions:
            session = _Session()
            # Proxies come from CRAWLER_PROXIES only: HTTP_PROXY and the like are not for us.
            session.trust_env = False
            adapter = self.pools.adapter(guarded=not policy.allow_private)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._sessions[policy.allow_private] = session
        return self._sessions[policy.allow_private]

    def close(self) -> None:
        """Closes the connections only when they are the fetcher's own: shared pools are
        the process's."""
        self._sessions.clear()
        if self._own_pools:
            self.pools.close()

    def fetch(
        self,
        url: str,
        policy: Policy,
        check: HopCheck = lambda url: None,
        keep_body: bool = False,
        prior: Prior | None = None,
    ) -> FetchResult:
        """Fetch `url`, calling `check` on every hop; raises FetchError subclasses.
        With `keep_body`, the raw (decompressed) body is kept in `result.body`. The
        whole exchange, redirects and robots.txt included, has `download_deadline`.
        With `prior` (a revisit), the request to the URL that answered last time is
        conditional on its validators: a 304 result has no content of its own.
        `sent_at` says when its last request went out (None: none did)."""
        self.sent_at = None
        with exchange_deadline(policy.download_deadline) as limit:
            try:
                result, body = self._exchange(url, policy, check, limit.at, prior)
            except TransientFetchError as exc:
                if limit.expired:
                    raise TransientFetchError("download deadline exceeded", exc.status, warc=exc.warc) from exc
                raise
        if limit.expired:
            # A cut connection can also look like a short, complete response.
            raise TransientFetchError("download deadline exceeded", result.status, warc=result.warc)
        return replace(result, body=body) if keep_body else result

    def _exchange(
        self, url: str, policy: Policy, check: HopCheck, deadline: float, prior: Prior | None
    ) -> tuple[FetchResult, bytes]:
        started = time.monotonic()
        redirects: list[str] = []
        current, status = url, None
        hop: WarcPointer | None = None
        while True:
            try:
                check(current)
            except PermanentFetchError as exc:
                raise exc.with_context(status=status, redirects=redirects, warc=hop) from exc
            response = self._send(current, policy, prior if prior is not None and prior.url == current else None)
            status = response.status_code
            location = response.headers.get("Location") if response.status_code in REDIRECT_STATUSES else None
            if location is None:
                break
            hop = self._drain(response)
            response.close()
            target = _resolve(current, location, policy.drop_params)
            refusal = _refused_redirect(target, url, redirects, policy.max_redirects)
            if refusal is not None:
                raise PermanentFetchError(refusal, response.status_code, warc=hop)
            assert target is not None
            redirects.append(target)
            current = target
        with response:
            return self._read(url, current, redirects, response, policy, started, deadline)

    def get_text(self, url: str, policy: Policy, limit: int, max_redirects: int = 5) -> tuple[int | None, str]:
        """A small text resource such as robots.txt: (status, first `limit` bytes decoded);
        status None when no usable answer came (network error, redirect loop, a redirect
        to a refused address). A refused address of `url` itself, or a host name that
        does not resolve, raises, as the page on that host would. The exchange has the
        download deadline, as a page has; `sent_at` says when its last request went out."""
        self.sent_at = None
        with exchange_deadline(policy.download_deadline):
            return self._text(url, policy, limit, max_redirects)

    def _text(self, url: str, policy: Policy, limit: int, max_redirects: int) -> tuple[int | None, str]:
        hops = 0
        try:
            while True:
                response = self._get(url, policy)
                location = response.headers.get("Location") if response.status_code in REDIRECT_STATUSES else None
                if location is None:
                    break
                self._drain(response)
                response.close()
                url = _resolve(url, location) or ""
                hops += 1
                if not url or hops > max_redirects:
                    return None, ""
        except PermanentFetchError:
            if hops == 0:
                raise
            return None, ""
        except requests.RequestException as exc:
            lookup = lookup_error_in(exc) if hops == 0 else None
            if lookup is not None and isinstance(failed := lookup_failed(lookup), PermanentFetchError):
                raise failed from exc
            return None, ""
        except (TransientFetchError, ValueError, UnicodeError, LocationParseError):
            return None, ""
        with response:
            body = read_body(response, limit, decode=True, keep_raw=self.archive is not None, stop_at_limit=True)
            self._capture(response, body)
            if body.error is not None and body.truncated != TRUNCATED_LENGTH:
                return None, ""
            return response.status_code, b"".join(body.decoded)[:limit].decode("utf-8", errors="replace")

    def _get(self, url: str, policy: Policy, prior: Prior | None = None) -> requests.Response:
        """One request, one hop: redirects are the caller's to check and follow."""
        if self.proxies is None:
            return self._request(url, policy, prior=prior)
        if not policy.allow_private:
            check_url(url)
        return self._via_proxy(url, policy, self.proxies, prior)

    def _via_proxy(
        self, url: str, policy: Policy, proxies: ProxyRotation, prior: Prior | None
    ) -> requests.Response:
        """Through the next working proxy, failing over to the next one while the
        exchange's deadline lasts (pipeline/fetch/failover.py)."""
        failover = Failover(proxies)
        while True:
            proxy = failover.pick()
            try:
                response = self._request(url, policy, proxy.url, prior)
            except requests.ConnectionError as exc:
                failover.unreachable(proxy, exc)
                continue
            if failover.answered(proxy, url, response):
                return response

    def _request(
        self, url: str, policy: Policy, proxy: str | None = None, prior: Prior | None = None
    ) -> requests.Response:
        if self.archive is not None:
            self.archive.check()
        date = _warc_date() if self.archive is not None else ""
        headers = {"User-Agent": policy.user_agent, "Accept-Encoding": ACCEPT_ENCODING}
        if prior is not None:
            headers.update(prior.conditional_headers())
        response = once_more_if_dropped(lambda: self.session(policy).get(
            url,
            timeout=(policy.timeout, policy.timeout),
            headers=headers,
            stream=True,
            allow_redirects=False,
            proxies={"http": proxy, "https": proxy} if proxy else None,
        ))
        sent_at = getattr(response.raw.connection, "sent_at", None)
        self.sent_at = sent_at if isinstance(sent_at, float) else time.monotonic()
        if self.archive is not None:
            refers_to = prior.reference() if prior is not None else None
            self._sent = _Sent(date, None if proxy else _peer(response), refers_to)
        return response

    def _send(self, url: str, policy: Policy, prior: Prior | None = None) -> requests.Response:
        try:
            response = self._get(url, policy, prior)
        except requests.RequestException as exc:
            raise classify(exc) from exc
        except (ValueError, UnicodeError, LocationParseError) as exc:
            raise PermanentFetchError(f"unusable URL: {type(exc).__name__}") from exc
        if response.status_code in TRANSIENT_STATUSES:
            wait = retry_after(response.headers.get("Retry-After"))
            capture = self._drain(response)
            response.close()
            raise TransientFetchError(
                f"HTTP {response.status_code}", response.status_code, retry_after=wait, warc=capture
            )
        return response

    def _read(
        self,
        url: str,
        final_url: str,
        redirects: list[str],
        response: requests.Response,
        policy: Policy,
        started: float,
        deadline: float,
    ) -> tuple[FetchResult, bytes]:
        media_type = _media_type(response.headers.get("Content-Type"))
        result = FetchResult(
            url=url,
            final_url=final_url,
            status=response.status_code,
            content_type=media_type,
            redirects=redirects,
        )
        if response.status_code >= 400:
            warc = self._drain(response)
            error = f"HTTP {response.status_code}"
            return replace(result, warc=warc, error=error, elapsed=_since(started)), b""
        result = replace(
            result, etag=response.headers.get("ETag"), last_modified=response.headers.get("Last-Modified")
        )
        if response.status_code == NOT_MODIFIED:
            # The page is as the last fetch found it: the store keeps that content.
            warc = self._drain(response)
            return replace(result, warc=warc, elapsed=_since(started)), b""
        body, warc = self._body(response, policy, deadline)
        encoding, text = None, None
        if media_type in policy.parse_types or media_type is None:
            encoding, text = decode_html(body, response.headers.get("Content-Type"))
        result = replace(
            result,
            warc=warc,
            headers=dict(response.headers) if policy.extract else None,
            length=len(body),
            content_hash=hashlib.sha1(body).hexdigest(),
            encoding=encoding,
            text=text,
            elapsed=_since(started),
        )
        return result, body

    def _body(self, response: requests.Response, policy: Policy, deadline: float) -> tuple[bytes, WarcPointer | None]:
        """The decoded body within the size cap and the deadline; a body past either is an
        error, archived as far as it was read."""
        body = read_body(
            response, policy.max_bytes, decode=True, keep_raw=self.archive is not None, deadline=deadline
        )
        capture = self._capture(response, body)
        if body.error is not None:
            raise body.error.with_context(warc=capture)
        response.raw.release_conn()
        return b"".join(body.decoded), capture

    def _drain(self, response: requests.Response, limit: int = DRAIN_BYTES) -> WarcPointer | None:
        """Read a small body we do not need to its end, so the connection can be reused;
        a large or broken one is left for close() to drop. Archived all the same."""
        body = read_body(response, limit, decode=False, keep_raw=self.archive is not None, stop_at_limit=True)
        capture = self._capture(response, body)
        if body.error is None:
            response.raw.release_conn()
        return capture

    def _capture(self, response: requests.Response, body: Body) -> WarcPointer | None:
        """Hand the exchange to the archive, with the payload as far as it was read."""
        if self.archive is None:
            return None
        request = response.request
        version = {10: "HTTP/1.0", 11: "HTTP/1.1"}.get(response.raw.version, "HTTP/1.1")
        exchange = Exchange(
            url=response.url,
            date=self._sent.date,
            request_line=f"{request.method or 'GET'} {request.path_url} HTTP/1.1",
            request_headers=list(request.headers.items()),
            protocol=version,
            status=response.status_code,
            reason=response.reason or "",
            headers=_received_headers(response),
            payload=body.raw,
            ip=self._sent.ip,
            truncated=body.truncated,
            refers_to=self._sent.refers_to,
        )
        try:
            return self.archive.exchange(exchange)
        except ArchiveUnavailable:
            response.close()
            raise


def _refused_redirect(target: str | None, url: str, redirects: list[str], max_redirects: int) -> str | None:
    """Why a redirect to `target` is not followed, if it is not."""
    if target is None:
        return "redirect to a non-http(s) URL"
    if target in redirects or target == url:
        return "redirect loop"
    if len(redirects) >= max_redirects:
        return "too many redirects"
    return None


def _received_headers(response: requests.Response) -> list[tuple[str, str]]:
    """The response's headers in the order and spelling they came in (urllib3's own
    mapping groups repeated names together)."""
    original = getattr(response.raw, "_original_response", None)
    if original is not None:
        return [(str(name), str(value)) for name, value in original.msg.items()]
    return list(response.raw.headers.items())


def _since(started: float) -> float:
    """Seconds since `started` (time.monotonic), as a result keeps them."""
    return round(time.monotonic() - started, 4)


def _peer(response: requests.Response) -> str | None:
    """The address the response's connection went to: the one the guard checked."""
    address = getattr(response.raw.connection, "peer_address", None)
    return address if isinstance(address, str) else None


def _warc_date() -> str:
    return datetime.now(UTC).strftime("%Y-%m-%dT%H:%M:%S.%fZ")


def _resolve(base: str, location: str, drop_params: tuple[str, ...] = ()) -> str | None:
    """A Location header as a canonical URL; None when it is not a usable http(s) URL."""
    try:
        return canonicalize(urljoin(base, location), drop_params)
    except (ValueError, UnicodeError):
        return None


def _media_type(header: str | None) -> str | None:
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower() or None
