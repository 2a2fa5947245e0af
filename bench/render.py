"""What rendering costs, per page: the JS test site (tests/integration/js_site.py) served
on loopback, each page fetched with the crawler's fetcher and then rendered in one
headless Chromium under a job's rules, as a render worker does. Reports the fetch and
render times (median, p90), the first page's (the browser starting) and the browser's
resident memory; docs/render.md quotes it. Linux only (memory from /proc)."""

from __future__ import annotations

import argparse
import json
import statistics
import sys
import time
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.fetch import Fetcher
from pipeline.render import Browser, render, subfetch
from pipeline.render.browser import browser_processes, resident_mb
from pipeline.settings import Policy
from tests.integration.js_site import js_host, pages


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--rounds", type=int, default=10, help="times every page of the site is rendered")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--json-out", help="also write the result here, as JSON")
    args = parser.parse_args(argv)
    host = js_host().start()
    policy = Policy(render="always", allow_private=True)
    fetcher, browser = Fetcher(), Browser(args.chromium, pages=10_000, memory_mb=1 << 20)
    fetches, renders, first = [], [], None
    memory = 0.0
    try:
        for _ in range(args.rounds):
            for url in sorted(pages(host.base)):
                started = time.monotonic()
                page = fetcher.fetch(url, policy)
                fetches.append(time.monotonic() - started)
                result = render(browser, page, policy, subfetch(lambda: fetcher, policy))
                if result.error is not None:
                    print(f"{url}: {result.error}", file=sys.stderr)
                    return 1
                first = result.elapsed if first is None else first
                renders.append(result.elapsed)
                memory = max(memory, resident_mb(browser_processes()))
    finally:
        browser.close()
        host.stop()
    report = {
        "pages": len(renders),
        "fetch_median_s": round(statistics.median(fetches), 4),
        "render_first_s": round(first or 0.0, 3),
        "render_median_s": round(statistics.median(renders[1:] or renders), 3),
        "render_p90_s": round(sorted(renders)[int(len(renders) * 0.9)], 3),
        "browser_rss_mib": round(memory),
    }
    print(json.dumps(report, indent=2))
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    return 0


if __name__ == "__main__":
    sys.exit(main())
