"""What rendering costs, on the JS test site (tests/integration/js_site.py) served on
loopback, each page fetched with the crawler's fetcher and then rendered in headless
Chromium under a job's rules, as a render worker does. Two modes:

- rounds (the default): every page of the site, `--rounds` times, in one browser that is
  never recycled: fetch and render times (median, p90), the first page's (the browser
  starting) and the browser's peak resident memory. docs/render.md quotes it.
- the memory curve (`--pages N`): N pages rendered by a worker process of its own through
  the browser lifecycle of a render worker (a fresh browser after CRAWLER_BROWSER_PAGES
  pages or past CRAWLER_BROWSER_MEMORY_MB), sampled every `--every` pages: the memory of
  the browser's processes, rendered pages/s, and CPU seconds per page of the worker with
  every process under it. Then the worker is killed with SIGKILL, and every process it
  started (its descendants, and those that left its tree but carry its environment, as
  Chromium's crash handlers do) must be gone within `--grace` seconds.

  The CPU is each process's own, last seen by a thread that reads the tree every
  CPU_EVERY seconds (it costs about 1% of a core), not the children's times a parent
  collects when it reaps them: a retired Chromium's helpers are not reaped by it, and
  their time would be lost at each recycle.

Linux only (/proc)."""

from __future__ import annotations

import argparse
import json
import os
import signal
import statistics
import subprocess
import sys
import threading
import time
import uuid
from pathlib import Path
from typing import Any

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))

from pipeline.fetch import Fetcher
from pipeline.render import Browser, render, subfetch
from pipeline.render.browser import browser_processes, resident_mb
from pipeline.settings import Policy, Settings
from tests.integration.js_site import js_host, pages

# Set in the worker's environment only: what a process it started inherits.
RUN_MARK = "CRAWLER_BENCH_RENDER_RUN"
# Seconds between two readings of the worker's processes' CPU.
CPU_EVERY = 0.2
_CLOCK = os.sysconf("SC_CLK_TCK")


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--rounds", type=int, default=10, help="rounds mode: times every page of the site is rendered")
    parser.add_argument("--pages", type=int, help="the memory curve over this many rendered pages")
    parser.add_argument("--every", type=int, default=10, help="memory curve: pages between two samples")
    parser.add_argument("--browser-pages", type=int,
                        help="memory curve: pages per browser (default CRAWLER_BROWSER_PAGES)")
    parser.add_argument("--grace", type=float, default=10.0,
                        help="memory curve: seconds the killed worker's processes have to go")
    parser.add_argument("--kill-group", action="store_true",
                        help="memory curve: kill the worker's process group (it and Playwright's driver) at once")
    parser.add_argument("--chromium", default="/usr/bin/chromium")
    parser.add_argument("--json-out", help="also write the result here, as JSON")
    parser.add_argument("--worker", metavar="SITE", help=argparse.SUPPRESS)
    args = parser.parse_args(argv)
    if args.worker:
        return worker(args)
    report = curve(args) if args.pages else rounds(args)
    if args.json_out:
        Path(args.json_out).write_text(json.dumps(report, indent=2) + "\n")
    return 1 if report.get("kill", {}).get("left") or report.get("worker_died") else 0


def rounds(args: argparse.Namespace) -> dict[str, Any]:
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
                    raise SystemExit(f"{url}: {result.error}")
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
    return report


# --- the memory curve: the worker --------------------------------------------------------


def worker(args: argparse.Namespace) -> int:
    """Render `--pages` pages of the site at `--worker`, a JSON line on stdout every
    `--every` pages; then, with a browser running, say so and wait to be killed."""
    settings = Settings.load()
    browser = Browser(args.chromium, args.browser_pages or settings.browser_pages, settings.browser_memory_mb)
    policy = Policy(render="always", allow_private=True)
    fetcher = Fetcher()
    urls = sorted(pages(args.worker))

    def one(n: int) -> bool:
        page = fetcher.fetch(urls[n % len(urls)], policy)
        return render(browser, page, policy, subfetch(lambda: fetcher, policy)).error is None

    meter = CpuMeter()
    started, failed = time.monotonic(), 0
    for n in range(1, args.pages + 1):
        failed += not one(n)
        if n % args.every == 0 or n == args.pages:
            print(json.dumps(dict(sample(meter), pages=n, failed=failed, browsers=browser.started,
                                  elapsed_s=round(time.monotonic() - started, 3))), flush=True)
    # The last page may have retired its browser: one more page starts one to be killed with.
    one(0)
    print(json.dumps({"ready": True, "processes": len(descendants(os.getpid()))}), flush=True)
    sys.stdin.read()
    return 0


def sample(meter: CpuMeter) -> dict[str, Any]:
    """The browser's processes' memory (RSS summed, as the recycler counts it, shared
    pages in each; and PSS, shared pages split between them: what they cost together),
    the rest of the tree's (Playwright's driver), and the CPU seconds of this process and
    every one that has been under it."""
    own = os.getpid()
    tree = descendants(own)
    chromium = set(browser_processes(own))
    return {
        "browser_rss_mb": round(resident_mb(sorted(chromium)), 1),
        "browser_pss_mb": round(proportional_mb(sorted(chromium)), 1),
        "driver_rss_mb": round(resident_mb([pid for pid in tree if pid not in chromium]), 1),
        "processes": len(chromium),
        "cpu_s": round(meter.total(), 2),
    }


class CpuMeter:
    """The CPU seconds of this process and of every process that has been under it:
    each one's own user and system time as last read, a reading every CPU_EVERY seconds
    by a thread of its own (a process that lived less than that may be missed)."""

    def __init__(self) -> None:
        self._seen: dict[str, float] = {}
        self._lock = threading.Lock()
        threading.Thread(target=self._run, name="cpu-meter", daemon=True).start()

    def total(self) -> float:
        self._read()
        with self._lock:
            return sum(self._seen.values())

    def _run(self) -> None:
        while True:
            self._read()
            time.sleep(CPU_EVERY)

    def _read(self) -> None:
        own = os.getpid()
        for pid in [own, *descendants(own)]:
            # A zombie is read too: its time is final.
            if (stat := _stat(pid)) is not None:
                identity, _, seconds = stat
                with self._lock:
                    self._seen[identity] = max(seconds, self._seen.get(identity, 0.0))


# --- the memory curve: the bench ---------------------------------------------------------


def curve(args: argparse.Namespace) -> dict[str, Any]:
    host = js_host().start()
    mark = uuid.uuid4().hex
    command = [sys.executable, __file__, "--worker", host.base, "--pages", str(args.pages), "--every",
               str(args.every), "--chromium", args.chromium]
    if args.browser_pages:
        command += ["--browser-pages", str(args.browser_pages)]
    process = subprocess.Popen(command, stdin=subprocess.PIPE, stdout=subprocess.PIPE, text=True,
                               env=dict(os.environ, **{RUN_MARK: mark}), start_new_session=True)
    samples: list[dict[str, Any]] = []
    print(f"{'pages':>6} {'browser RSS MB':>15} {'browser PSS MB':>15} {'driver MB':>10} {'processes':>10} "
          f"{'browsers':>9} {'failed':>7}")
    try:
        assert process.stdout is not None
        for line in process.stdout:
            data = json.loads(line)
            if data.get("ready"):
                break
            samples.append(data)
            if data["processes"]:
                memory = (f"{data['browser_rss_mb']:>15.1f} {data['browser_pss_mb']:>15.1f} "
                          f"{data['driver_rss_mb']:>10.1f}")
            else:  # sampled just after its browser was retired, before the next one starts
                memory = f"{'(between browsers)':>42}"
            print(f"{data['pages']:>6} {memory} {data['processes']:>10} {data['browsers']:>9} {data['failed']:>7}")
        else:
            process.wait()
            return {"samples": samples, "worker_died": process.returncode}
        started = processes_of(process.pid, mark)
        if args.kill_group:
            os.killpg(process.pid, signal.SIGKILL)
        else:
            process.kill()
        process.wait()
        left, gone_in = wait_gone(started, args.grace)
    finally:
        if process.poll() is None:
            process.kill()
        host.stop()
    return summary(args, samples, started, left, gone_in)


def summary(args: argparse.Namespace, samples: list[dict[str, Any]], started: dict[int, str],
            left: dict[int, str], gone_in: float) -> dict[str, Any]:
    last = samples[-1]
    peak = max(samples, key=lambda s: s["browser_rss_mb"])
    cpu_per_page = last["cpu_s"] / last["pages"]
    report = {
        "samples": samples,
        "pages": last["pages"],
        "failed": last["failed"],
        "browsers": last["browsers"],
        "peak_browser_rss_mb": peak["browser_rss_mb"],
        "peak_at_page": peak["pages"],
        "peak_browser_pss_mb": max(s["browser_pss_mb"] for s in samples),
        "pages_per_s": round(last["pages"] / last["elapsed_s"], 2),
        "cpu_s_per_page": round(cpu_per_page, 3),
        "pages_per_s_per_core": round(1 / cpu_per_page, 2),
        "kill": {"signal": "SIGKILL to the worker's process group" if args.kill_group else "SIGKILL to the worker",
                 "processes": sorted(started.values()), "gone_within_s": round(gone_in, 2),
                 "left": sorted(left.values())},
    }
    print(f"peak browser RSS {report['peak_browser_rss_mb']} MB (page {peak['pages']}), peak PSS "
          f"{report['peak_browser_pss_mb']} MB; {report['browsers']} browsers for {report['pages']} pages, "
          f"{report['failed']} failed")
    print(f"{report['pages_per_s']} rendered pages/s; {report['cpu_s_per_page']} CPU s per page (worker, driver "
          f"and browser): {report['pages_per_s_per_core']} pages/s per core")
    if left:
        print(f"{report['kill']['signal']}: {len(left)} of its {len(started)} processes still there after "
              f"{args.grace:g} s: {', '.join(sorted(left.values()))}")
    else:
        print(f"{report['kill']['signal']}: all {len(started)} processes it started gone within {gone_in:.1f} s")
    return report


def processes_of(root: int, mark: str) -> dict[int, str]:
    """The processes `root` started: its descendants and itself, and any process whose
    environment has the run's `mark` (Chromium's crash handlers leave the tree at once;
    its zygote's children rewrite their environment, but stay in the tree). pid ->
    "comm pid" for processes alive now, each checked by its start time later."""
    found = {}
    for pid in [root, *descendants(root), *marked(mark)]:
        if (identity := _identity(pid)) is not None:
            found[pid] = identity
    return found


def wait_gone(started: dict[int, str], grace: float) -> tuple[dict[int, str], float]:
    """Which of `started` are still there (the same pid and start time) after `grace`
    seconds at most, and when the last went."""
    begun = time.monotonic()
    while True:
        left = {pid: name for pid, name in started.items() if _identity(pid) == name}
        waited = time.monotonic() - begun
        if not left or waited >= grace:
            return left, waited
        time.sleep(0.05)


def _identity(pid: int) -> str | None:
    """"comm pid@start-time", or None for a process gone (or a zombie: it only waits to
    be reaped)."""
    stat = _stat(pid)
    return None if stat is None or stat[1] == "Z" else stat[0]


def _stat(pid: int) -> tuple[str, str, float] | None:
    """The identity of `pid` ("comm pid@start-time"), its state, and its own user and
    system CPU seconds (all its threads'); None when it is gone."""
    try:
        text = Path(f"/proc/{pid}/stat").read_text()
    except OSError:
        return None
    name, fields = text[text.index("(") + 1:text.rindex(")")], text[text.rindex(")") + 2:].split()
    return f"{name} {pid}@{fields[19]}", fields[0], (int(fields[11]) + int(fields[12])) / _CLOCK


def descendants(root: int) -> list[int]:
    children: dict[int, list[int]] = {}
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            text = stat.read_text()
        except OSError:
            continue
        children.setdefault(int(text[text.rindex(")") + 2:].split()[1]), []).append(int(stat.parent.name))
    found, todo = [], list(children.get(root, []))
    while todo:
        pid = todo.pop()
        found.append(pid)
        todo += children.get(pid, [])
    return found


def marked(mark: str) -> list[int]:
    needle = f"{RUN_MARK}={mark}".encode()
    found = []
    for environ in Path("/proc").glob("[0-9]*/environ"):
        try:
            if needle in environ.read_bytes().split(b"\0"):
                found.append(int(environ.parent.name))
        except OSError:
            continue
    return found


def proportional_mb(pids: list[int]) -> float:
    """Proportional set size of `pids` together, in MiB: each shared page split between
    the processes that share it."""
    total = 0
    for pid in pids:
        try:
            lines = Path(f"/proc/{pid}/smaps_rollup").read_text().splitlines()
        except OSError:
            continue
        total += next((int(line.split()[1]) for line in lines if line.startswith("Pss:")), 0)
    return total / 1024


if __name__ == "__main__":
    sys.exit(main())
