"""HTTP fetching within limits.

One ``requests.Session`` per worker process keeps connections alive. Redirects are
followed by hand so that every hop passes the caller's checks (scope, robots, address
guard) before it is requested; the body is streamed so the size cap and the wall-clock
deadline hold however the server behaves.
"""

from __future__ import annotations

import hashlib
import re
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass, field
from datetime import UTC, datetime
from email.utils import parsedate_to_datetime
from typing import Any
from urllib.parse import urljoin

import requests
from urllib3.exceptions import DecodeError, LocationParseError, ReadTimeoutError
from urllib3.exceptions import HTTPError as Urllib3Error

from pipeline.connections import CrawlerAdapter
from pipeline.deadline import deadline as exchange_deadline
from pipeline.deadline import passed as deadline_passed
from pipeline.encoding import decode_html
from pipeline.errors import EgressUnavailable, PermanentFetchError, TransientFetchError
from pipeline.guard import check_url
from pipeline.proxies import ProxyRotation
from pipeline.settings import Policy
from pipeline.urls import canonicalize

CHUNK = 64 * 1024
# Bodies of redirects and error pages up to this size are read, to keep the connection.
DRAIN_BYTES = 64 * 1024
TRANSIENT_STATUSES = frozenset({408, 429}) | frozenset(range(500, 600))
REDIRECT_STATUSES = frozenset({301, 302, 303, 307, 308})
PROXY_AUTH_REQUIRED = 407
# How urllib3 reports a CONNECT that the proxy answered with another status than 200.
_TUNNEL_FAILED = re.compile(r"Tunnel connection failed: (\d{3})")

HopCheck = Callable[[str], None]


@dataclass
class FetchResult:
    """What one URL gave; plain data, so it travels between tasks as JSON."""

    url: str
    final_url: str
    status: int | None = None
    content_type: str | None = None
    encoding: str | None = None
    text: str | None = None
    length: int = 0
    content_hash: str | None = None
    elapsed: float = 0.0
    redirects: list[str] = field(default_factory=list)
    error: str | None = None
    fetched_at: str = field(default_factory=lambda: utcnow())
    links: list[str] | None = None
    sitemaps: list[str] = field(default_factory=list)
    body: bytes | None = field(default=None, repr=False)

    def to_json(self) -> dict[str, Any]:
        """Everything but the raw body, which never travels between tasks."""
        data = asdict(self)
        data.pop("body")
        return data

    @classmethod
    def from_json(cls, data: dict[str, Any]) -> FetchResult:
        return cls(**{name: value for name, value in data.items() if name != "body"})

    @classmethod
    def failed(cls, url: str, reason: str, status: int | None = None, redirects: Sequence[str] = ()) -> FetchResult:
        final = redirects[-1] if redirects else url
        return cls(url=url, final_url=final, status=status, error=reason, redirects=list(redirects))


def utcnow() -> str:
    """ISO 8601 UTC to the millisecond: the store keeps the later of two fetches of one URL
    by comparing these as text, so two fetches within one second must still differ."""
    return datetime.now(UTC).isoformat(timespec="milliseconds").replace("+00:00", "Z")


def classify(exc: requests.RequestException) -> TransientFetchError | PermanentFetchError:
    """Network trouble is worth retrying; a request the library refuses to send is not."""
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


class Fetcher:
    """Fetches one URL at a time for one worker thread, over kept-alive connections.

    Two sessions: one whose connections pass the address guard, and a plain one for
    jobs that allow private addresses. With `proxies`, every request, robots.txt and
    redirect hops included, goes out through one of them."""

    def __init__(self, proxies: ProxyRotation | None = None) -> None:
        self._sessions: dict[bool, requests.Session] = {}
        self.proxies = proxies

    def session(self, policy: Policy) -> requests.Session:
        if policy.allow_private not in self._sessions:
            session = requests.Session()
            # Proxies come from CRAWLER_PROXIES only: HTTP_PROXY and the like are not for us.
            session.trust_env = False
            adapter = CrawlerAdapter(guarded=not policy.allow_private)
            session.mount("http://", adapter)
            session.mount("https://", adapter)
            self._sessions[policy.allow_private] = session
        return self._sessions[policy.allow_private]

    def close(self) -> None:
        for session in self._sessions.values():
            session.close()
        self._sessions.clear()

    def fetch(
        self, url: str, policy: Policy, check: HopCheck = lambda url: None, keep_body: bool = False
    ) -> FetchResult:
        """Fetch `url`, calling `check` on every hop; raises FetchError subclasses.
        With `keep_body`, the raw (decompressed) body is kept in `result.body`. The
        whole exchange, redirects and robots.txt included, has `download_deadline`."""
        with exchange_deadline(policy.download_deadline) as limit:
            try:
                result, body = self._exchange(url, policy, check, limit.at)
            except TransientFetchError as exc:
                if limit.expired:
                    raise TransientFetchError("download deadline exceeded", exc.status) from exc
                raise
        if limit.expired:
            # A cut connection can also look like a short, complete response.
            raise TransientFetchError("download deadline exceeded", result.status)
        if keep_body:
            result.body = body
        return result

    def _exchange(self, url: str, policy: Policy, check: HopCheck, deadline: float) -> tuple[FetchResult, bytes]:
        started = time.monotonic()
        redirects: list[str] = []
        current, status = url, None
        while True:
            try:
                check(current)
            except PermanentFetchError as exc:
                exc.status, exc.redirects = exc.status or status, redirects
                raise
            response = self._send(current, policy)
            status = response.status_code
            location = response.headers.get("Location") if response.status_code in REDIRECT_STATUSES else None
            if location is None:
                break
            _drain(response)
            response.close()
            target = _resolve(current, location, policy.drop_params)
            if target is None:
                raise PermanentFetchError("redirect to a non-http(s) URL", response.status_code)
            if target in redirects or target == url:
                raise PermanentFetchError("redirect loop", response.status_code)
            if len(redirects) >= policy.max_redirects:
                raise PermanentFetchError("too many redirects", response.status_code)
            redirects.append(target)
            current = target
        with response:
            return self._read(url, current, redirects, response, policy, started, deadline)

    def get_text(self, url: str, policy: Policy, limit: int, max_redirects: int = 5) -> tuple[int | None, str]:
        """A small text resource such as robots.txt: (status, first `limit` bytes decoded);
        status None when no usable answer came (network error, redirect loop, a redirect
        to a refused address). A refused address of `url` itself raises, as the page
        on that host would. The exchange has the download deadline, as a page has."""
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
                _drain(response)
                response.close()
                url = _resolve(url, location) or ""
                hops += 1
                if not url or hops > max_redirects:
                    return None, ""
        except PermanentFetchError:
            if hops == 0:
                raise
            return None, ""
        except (requests.RequestException, TransientFetchError, ValueError, UnicodeError, LocationParseError):
            return None, ""
        with response:
            body = b""
            try:
                while chunk := response.raw.read1(CHUNK, decode_content=True):
                    body += chunk
                    if len(body) >= limit:
                        break
            except (Urllib3Error, OSError):
                return None, ""
            return response.status_code, body[:limit].decode("utf-8", errors="replace")

    def _get(self, url: str, policy: Policy) -> requests.Response:
        """One request, one hop: redirects are the caller's to check and follow."""
        if self.proxies is None:
            return self._request(url, policy)
        if not policy.allow_private:
            check_url(url)
        return self._via_proxy(url, policy, self.proxies)

    def _via_proxy(self, url: str, policy: Policy, proxies: ProxyRotation) -> requests.Response:
        """Through the next working proxy; one that fails is taken out of rotation and the
        next one tried, while the exchange's deadline lasts. Only the proxy's own failures
        bench it: a site it could not reach is that site's failure."""
        benched = False
        while not deadline_passed():
            proxy = proxies.pick()
            try:
                response = self._request(url, policy, proxy.url)
            except requests.ConnectionError as exc:
                status = _tunnel_status(exc)
                if status is not None and status != PROXY_AUTH_REQUIRED:
                    raise TransientFetchError(f"the proxy could not reach the site (CONNECT: {status})") from exc
                if status is None and not isinstance(exc, requests.exceptions.ProxyError):
                    raise
                proxies.failed(proxy, "unreachable" if status is None else "refused our credentials")
                benched = True
                continue
            refused = response.status_code == PROXY_AUTH_REQUIRED and "Proxy-Authenticate" in response.headers
            if refused and proxy.relays(url):
                response.close()
                proxies.failed(proxy, "refused our credentials")
                benched = True
                continue
            return response
        if benched:
            raise EgressUnavailable("the proxies kept failing until the download deadline", wait=1.0)
        raise TransientFetchError("download deadline exceeded")

    def _request(self, url: str, policy: Policy, proxy: str | None = None) -> requests.Response:
        return self.session(policy).get(
            url,
            timeout=(policy.timeout, policy.timeout),
            headers={"User-Agent": policy.user_agent},
            stream=True,
            allow_redirects=False,
            proxies={"http": proxy, "https": proxy} if proxy else None,
        )

    def _send(self, url: str, policy: Policy) -> requests.Response:
        try:
            response = self._get(url, policy)
        except requests.RequestException as exc:
            raise classify(exc) from exc
        except (ValueError, UnicodeError, LocationParseError) as exc:
            raise PermanentFetchError(f"unusable URL: {type(exc).__name__}") from exc
        if response.status_code in TRANSIENT_STATUSES:
            wait = retry_after(response.headers.get("Retry-After"))
            response.close()
            raise TransientFetchError(f"HTTP {response.status_code}", response.status_code, wait)
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
            _drain(response)
            result.error = f"HTTP {response.status_code}"
            result.elapsed = round(time.monotonic() - started, 4)
            return result, b""
        body = self._body(response, policy, deadline)
        result.length = len(body)
        result.content_hash = hashlib.sha1(body).hexdigest()
        if media_type in policy.parse_types or media_type is None:
            result.encoding, result.text = decode_html(body, response.headers.get("Content-Type"))
        result.elapsed = round(time.monotonic() - started, 4)
        return result, body

    def _body(self, response: requests.Response, policy: Policy, deadline: float) -> bytes:
        chunks: list[bytes] = []
        size = 0
        try:
            while chunk := response.raw.read1(CHUNK, decode_content=True):
                size += len(chunk)
                if size > policy.max_bytes:
                    raise PermanentFetchError("too large", response.status_code)
                if time.monotonic() > deadline:
                    raise TransientFetchError("download deadline exceeded", response.status_code)
                chunks.append(chunk)
        except DecodeError as exc:
            raise PermanentFetchError("undecodable content encoding", response.status_code) from exc
        except ReadTimeoutError as exc:
            raise TransientFetchError("timeout", response.status_code) from exc
        except (Urllib3Error, OSError) as exc:
            raise TransientFetchError("connection error", response.status_code) from exc
        response.raw.release_conn()
        return b"".join(chunks)


def _tunnel_status(exc: requests.RequestException) -> int | None:
    """The status a proxy answered a CONNECT with, when that is why the request failed."""
    match = _TUNNEL_FAILED.search(str(exc))
    return int(match.group(1)) if match else None


def _resolve(base: str, location: str, drop_params: tuple[str, ...] = ()) -> str | None:
    """A Location header as a canonical URL; None when it is not a usable http(s) URL."""
    try:
        return canonicalize(urljoin(base, location), drop_params)
    except (ValueError, UnicodeError):
        return None


def _drain(response: requests.Response, limit: int = DRAIN_BYTES) -> None:
    """Read a small body we do not need to its end, so the connection can be reused;
    a large or broken one is left for close() to drop."""
    size = 0
    try:
        while chunk := response.raw.read1(CHUNK, decode_content=False):
            size += len(chunk)
            if size > limit:
                return
    except (Urllib3Error, OSError):
        return
    response.raw.release_conn()


def _media_type(header: str | None) -> str | None:
    if not header:
        return None
    return header.split(";", 1)[0].strip().lower() or None
