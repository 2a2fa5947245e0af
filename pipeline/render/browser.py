"""One headless Chromium per worker process, kept within bounds. Playwright's sync API
keeps to the thread that started it and a threads pool has many, so the browser lives in
a thread of its own and pages are handed to it one at a time. Each page gets a fresh
context; the browser is started again after CRAWLER_BROWSER_PAGES pages, past
CRAWLER_BROWSER_MEMORY_MB, or when it died, and killed when a page outlives its budget."""

from __future__ import annotations

import contextlib
import logging
import os
import signal
from collections.abc import Callable
from concurrent.futures import Future, ThreadPoolExecutor
from concurrent.futures import TimeoutError as FutureTimeout
from pathlib import Path
from typing import TypeVar

from playwright.sync_api import Browser as PlaywrightBrowser
from playwright.sync_api import BrowserContext, Playwright, sync_playwright
from playwright.sync_api import Error as PlaywrightError

T = TypeVar("T")
logger = logging.getLogger(__name__)

# Every request the browser makes is answered by the crawler through page routing; one
# that escapes it (a WebSocket, a request of a worker script) goes to this dead proxy and
# fails, loopback included (`<-loopback>`), so nothing leaves the browser by itself.
DEAD_PROXY = "socks5://127.0.0.1:9"
LAUNCH_ARGS = (
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--dns-prefetch-disable",
    f"--proxy-server={DEAD_PROXY}",
    "--proxy-bypass-list=<-loopback>",
    "--force-webrtc-ip-handling-policy=disable_non_proxied_udp",
)
# Seconds past a page's own budget before its browser is killed to free the thread.
GRACE = 10.0


class BrowserHung(Exception):
    """A page outlived its budget and grace: its browser was killed."""


class Browser:
    """A Chromium started on first use, driven by one thread; `run` hands it a page's work."""

    def __init__(self, executable: str, pages: int, memory_mb: int) -> None:
        self.executable = executable
        self.pages = pages
        self.memory_mb = memory_mb
        self._thread = ThreadPoolExecutor(1, thread_name_prefix="browser")
        self._playwright: Playwright | None = None
        self._browser: PlaywrightBrowser | None = None
        self._served = 0
        # Browsers launched so far: the first, and each one that replaced another.
        self.started = 0

    def start(self) -> None:
        """Launch the browser in its thread now, without waiting for it: the first page
        then finds it running. A launch that fails here fails again, and is reported,
        on that page."""
        self._thread.submit(self._warm).add_done_callback(_log_failed_launch)

    def run(self, user_agent: str, work: Callable[[BrowserContext], T], budget: float) -> T:
        """`work` done on a fresh context of the browser, within `budget` seconds plus a
        grace; past that the browser is killed (the work then fails in its thread) and
        BrowserHung raised."""
        future = self._thread.submit(self._in_context, user_agent, work)
        try:
            return future.result(budget + GRACE)
        except FutureTimeout:
            logger.error("a page outlived its %g s in the browser: killing the browser", budget)
            kill(browser_processes())
            raise BrowserHung("browser hung") from None

    def close(self) -> None:
        """Stop the browser and its thread; a browser too stuck to stop in time is killed."""
        try:
            self._thread.submit(self._stop).result(GRACE)
        except (FutureTimeout, RuntimeError):
            # RuntimeError: the interpreter is exiting and has stopped the thread already.
            kill(browser_processes())
        self._thread.shutdown(wait=False)

    def _in_context(self, user_agent: str, work: Callable[[BrowserContext], T]) -> T:
        context = self._ready().new_context(user_agent=user_agent, service_workers="block")
        try:
            return work(context)
        finally:
            with contextlib.suppress(PlaywrightError):
                context.close()
            self._served += 1
            if self._served >= self.pages or resident_mb(browser_processes()) > self.memory_mb:
                self._stop()

    def _warm(self) -> None:
        """Launch, and open one blank page, so the first real page finds the browser's
        page machinery started too."""
        context = self._ready().new_context()
        try:
            context.new_page()
        finally:
            with contextlib.suppress(PlaywrightError):
                context.close()

    def _ready(self) -> PlaywrightBrowser:
        """The running browser, started (again) when there is none or it died."""
        if self._browser is not None and not self._browser.is_connected():
            self._stop()
        if self._playwright is None:
            self._playwright = sync_playwright().start()
        if self._browser is None:
            self._browser = self._playwright.chromium.launch(
                executable_path=self.executable, args=list(LAUNCH_ARGS), headless=True
            )
            self._served = 0
            self.started += 1
        return self._browser

    def _stop(self) -> None:
        """Close the browser and the driver (a fresh pair is started for the next page)."""
        browser, driver = self._browser, self._playwright
        for stop in (browser.close if browser else None, driver.stop if driver else None):
            if stop is None:
                continue
            try:
                stop()
            except (PlaywrightError, OSError) as exc:
                logger.warning("closing the browser: %s", exc)
        self._browser, self._playwright = None, None


def _log_failed_launch(launch: Future[None]) -> None:
    if launch.exception() is not None:
        logger.warning("starting the browser ahead of its first page failed: %s", launch.exception())


def browser_processes(root: int | None = None) -> list[int]:
    """The Chromium processes among this process's descendants (Linux /proc; none elsewhere)."""
    root = os.getpid() if root is None else root
    children: dict[int, list[int]] = {}
    names: dict[int, str] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        own, rest = text.split(" (", 1)
        name, fields = rest.rsplit(") ", 1)
        children.setdefault(int(fields.split()[1]), []).append(int(own))
        names[int(own)] = name
    found: list[int] = []
    todo = list(children.get(root, []))
    while todo:
        pid = todo.pop()
        todo += children.get(pid, [])
        if names.get(pid, "").startswith(("chrom", "headless_shell")):
            found.append(pid)
    return found


def resident_mb(pids: list[int]) -> float:
    """Resident memory of `pids` together, in MiB (shared pages counted in each)."""
    total = 0
    for pid in pids:
        try:
            total += int(Path(f"/proc/{pid}/statm").read_text().split()[1])
        except (OSError, IndexError, ValueError):
            continue
    return total * os.sysconf("SC_PAGE_SIZE") / 2**20


def kill(pids: list[int]) -> None:
    for pid in pids:
        try:
            os.kill(pid, signal.SIGKILL)
        except OSError:
            continue
