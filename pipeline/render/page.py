"""One fetched page rendered under the crawler's rules. The browser never asks the site
for the page: its main document is answered from the fetched response. Every other
request it makes is either refused (not http(s), not GET, an image, media or font,
past the page's caps on requests, bytes or time, a navigation away) or fetched by the
crawler's own fetcher, so the address guard, proxies and WARC archiving apply to it as
to any page."""

from __future__ import annotations

import contextlib
import logging
import time
from collections.abc import Callable
from dataclasses import dataclass, field, replace

from playwright.sync_api import BrowserContext, Request, Route
from playwright.sync_api import Error as PlaywrightError
from playwright.sync_api import TimeoutError as PlaywrightTimeout

from pipeline.fetch import Fetcher, FetchError, FetchResult, WorkerUnavailable
from pipeline.render.browser import Browser, BrowserHung
from pipeline.settings import Policy

logger = logging.getLogger(__name__)
ASSET_TYPES = frozenset({"image", "media", "font"})
SCHEMES = ("http://", "https://")


@dataclass(frozen=True)
class Answer:
    """What the crawler fetched for one of the browser's requests."""

    status: int
    content_type: str | None
    body: bytes


Subfetch = Callable[[str, float], Answer]


@dataclass(frozen=True)
class Rendered:
    """The DOM the page's scripts built (None when the render failed, with `error`), how
    long the browser took, how many subrequests it was answered and which it was refused."""

    html: str | None
    elapsed: float
    error: str | None = None
    requests: int = 0
    refused: tuple[str, ...] = ()
    screenshot: bytes | None = field(default=None, repr=False)


def subfetch(fetcher: Callable[[], Fetcher], policy: Policy) -> Subfetch:
    """Fetch a subrequest with the `fetcher()` of the thread that asks (the browser's),
    under the job's policy, within the seconds left to the page; a refusal or failure
    raises FetchError."""

    def fetch(url: str, seconds: float) -> Answer:
        seconds = max(seconds, 0.1)
        limits = policy.merged(download_deadline=min(policy.download_deadline, seconds),
                               timeout=min(policy.timeout, seconds), parse_types=())
        result = fetcher().fetch(url, limits, keep_body=True)
        return Answer(result.status or 502, result.content_type, result.body or b"")

    return fetch


def render(browser: Browser, page: FetchResult, policy: Policy, fetch: Subfetch) -> Rendered:
    """Load `page` in the browser from its fetched text and wait for its load event, then
    for the network to fall idle (at most CRAWLER_RENDER_IDLE), all within
    CRAWLER_RENDER_TIMEOUT; the DOM as it then is."""
    started = time.monotonic()
    gate = _Gate(page, policy, fetch, started + policy.render_timeout)
    try:
        html, screenshot = browser.run(
            policy.user_agent, lambda context: _load(context, page.final_url, policy, gate), policy.render_timeout
        )
        rendered = Rendered(html, 0.0, screenshot=screenshot)
    except PlaywrightTimeout:
        rendered = Rendered(None, 0.0, "render timeout")
    except BrowserHung as exc:
        rendered = Rendered(None, 0.0, f"render failed: {exc}")
    except PlaywrightError as exc:
        # The record keeps a short reason; the log has Playwright's (a missing browser, say).
        logger.warning("rendering %s: %s", page.final_url, str(exc).splitlines()[0] if str(exc) else repr(exc))
        reason = "browser crashed" if "crash" in str(exc).lower() or "closed" in str(exc).lower() else "render failed"
        rendered = Rendered(None, 0.0, reason)
    return replace(rendered, elapsed=round(time.monotonic() - started, 4), requests=gate.requests,
                   refused=tuple(gate.refused))


def _load(context: BrowserContext, url: str, policy: Policy, gate: _Gate) -> tuple[str, bytes | None]:
    """The DOM, and the screenshot the job asks for."""
    context.route("**/*", gate)
    tab = context.new_page()
    tab.goto(url, wait_until="load", timeout=_ms(gate.left()))
    with contextlib.suppress(PlaywrightTimeout):
        tab.wait_for_load_state("networkidle", timeout=_ms(min(policy.render_idle, gate.left())))
    html = tab.content()
    return html, tab.screenshot(type="png", timeout=_ms(gate.left())) if policy.screenshot else None


@dataclass
class _Gate:
    """The route every request of the page's browser context goes through."""

    page: FetchResult
    policy: Policy
    fetch: Subfetch
    deadline: float
    served: bool = False
    requests: int = 0
    bytes: int = 0
    refused: list[str] = field(default_factory=list)

    def __call__(self, route: Route, request: Request) -> None:
        # The page may go away (closed at its deadline) before its answer.
        with contextlib.suppress(PlaywrightError):
            try:
                self._answer(route, request)
            except Exception as exc:
                # A bug or a limit hit deep in a library refuses the request, not the page.
                logger.exception("answering the browser's request for %s failed", request.url)
                self.refused.append(f"internal error: {type(exc).__name__}: {request.url}")
                route.abort("failed")

    def left(self) -> float:
        return self.deadline - time.monotonic()

    def _answer(self, route: Route, request: Request) -> None:
        if not self.served and request.is_navigation_request() and request.frame.parent_frame is None:
            self.served = True
            route.fulfill(status=self.page.status or 200, content_type="text/html; charset=utf-8",
                          body=self.page.text or "")
            return
        refusal = self._refusal(request)
        if refusal is None:
            self.requests += 1
            try:
                answer = self.fetch(request.url, self.left())
            except FetchError as exc:
                refusal = exc.reason
            except WorkerUnavailable as exc:
                refusal = str(exc)
            else:
                self.bytes += len(answer.body)
                if self.bytes <= self.policy.render_max_bytes:
                    route.fulfill(status=answer.status, content_type=answer.content_type, body=answer.body)
                    return
                refusal = "past the page's bytes"
        self.refused.append(f"{refusal}: {request.url}")
        route.abort("blockedbyclient")

    def _refusal(self, request: Request) -> str | None:
        """Why the browser may not have `request`, if it may not."""
        if not request.url.startswith(SCHEMES):
            return "not http(s)"
        if request.is_navigation_request():
            return "navigation"
        if request.method != "GET":
            return f"method {request.method}"
        if request.resource_type in ASSET_TYPES and not self.policy.render_assets:
            return request.resource_type
        if self.requests >= self.policy.render_max_requests:
            return "past the page's requests"
        if self.left() <= 0:
            return "past the page's time"
        return None


def _ms(seconds: float) -> float:
    return max(seconds, 0.001) * 1000
