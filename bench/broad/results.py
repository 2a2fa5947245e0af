"""What the broad benchmark makes of its runs: one `Run` per crawl, the figures per case
(medians [min..max] over rounds), the ratios to Scrapy taken within each round, the
politeness breaches, and the limits each case is measured against."""

from __future__ import annotations

import argparse
import os
import statistics
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

import limits
import politeness

BASELINE = "scrapy"


@dataclass
class Run:
    """One crawl. `ok` means it ended with exit code 0; `note` says why not, or what is off."""

    case: str
    round: int
    ok: bool
    note: str
    exit_code: int | None
    pages: int
    wall_s: float
    cpu_s: float
    redis_cpu_s: float
    site_cpu_s: float
    peak_rss_mb: float
    pages_per_s: float
    cpu_ms_per_page: float | None
    server_span_s: float  # first arrival to last at the site: the wall time less start-up and shutdown
    politeness: politeness.Verdict
    log_start: int  # the run's part of the site's log, as byte offsets
    log_end: int


def spread(values: Sequence[float]) -> dict[str, float]:
    return {"median": statistics.median(values), "min": min(values), "max": max(values)}


def show(figures: dict[str, float] | None, digits: int) -> str:
    if figures is None:
        return "-"
    return f"{figures['median']:.{digits}f} [{figures['min']:.{digits}f}..{figures['max']:.{digits}f}]"


FIGURES: dict[str, tuple[Callable[[Run], float | None], int]] = {
    "pages": (lambda run: run.pages, 0),
    "pages/s": (lambda run: run.pages_per_s, 1),
    "CPU ms/page": (lambda run: run.cpu_ms_per_page, 2),
    "peak RSS MB": (lambda run: run.peak_rss_mb, 0),
    "wall s": (lambda run: run.wall_s, 1),
    "server span s": (lambda run: run.server_span_s, 1),
    "Redis CPU s": (lambda run: run.redis_cpu_s, 2),
    "site CPU s": (lambda run: run.site_cpu_s, 2),
}
BREACHES: dict[str, tuple[Callable[[Run], float | None], int]] = {
    "requests": (lambda run: run.politeness.requests, 0),
    "too close": (lambda run: run.politeness.too_close, 0),
    "under half": (lambda run: run.politeness.under_half, 0),
    "hosts": (lambda run: run.politeness.hosts_too_close, 0),
    "min gap ms": (lambda run: None if run.politeness.min_gap_s is None else 1000 * run.politeness.min_gap_s, 0),
    "overlaps": (lambda run: run.politeness.overlaps, 0),
    "repeats": (lambda run: run.politeness.repeats, 0),
    "500 retries": (lambda run: run.politeness.broken_retries, 0),
    "disallowed": (lambda run: run.politeness.disallowed, 0),
}
RATIOS: dict[str, Callable[[Run], float | None]] = {
    "pages/s": lambda run: run.pages_per_s,
    "CPU ms/page": lambda run: run.cpu_ms_per_page,
    "peak RSS": lambda run: run.peak_rss_mb,
}


def _spread_of(runs: Sequence[Run], get: Callable[[Run], float | None]) -> dict[str, float] | None:
    values = [value for run in runs if (value := get(run)) is not None]
    return spread(values) if values else None


def summary(runs: Sequence[Run], cases: Sequence[str]) -> dict[str, Any]:
    """Per case, over its runs that ended cleanly: every figure and breach; and per round,
    each figure's ratio to Scrapy's in that round."""
    result: dict[str, Any] = {}
    for case in cases:
        good = [run for run in runs if run.case == case and run.ok]
        ratios = {}
        for name, get in RATIOS.items():
            pairs = [(get(run), get(base)) for run in good for base in runs
                     if base.case == BASELINE and base.ok and base.round == run.round]
            values = [mine / theirs for mine, theirs in pairs if mine is not None and theirs]
            ratios[name] = spread(values) if values and case != BASELINE else None
        result[case] = {
            "runs": len([run for run in runs if run.case == case]), "ok": len(good),
            "notes": sorted({run.note for run in runs if run.case == case and run.note}),
            "figures": {name: _spread_of(good, get) for name, (get, _) in FIGURES.items()},
            "breaches": {name: _spread_of(good, get) for name, (get, _) in BREACHES.items()},
            "ratios": ratios,
        }
    return result


def _table(header: Sequence[str], rows: Sequence[Sequence[str]]) -> list[str]:
    widths = [max(len(row[column]) for row in [header, *rows]) for column in range(len(header))]
    return ["  ".join(cell.ljust(width) for cell, width in zip(row, widths, strict=True)).rstrip()
            for row in [header, *rows]]


def report(result: dict[str, Any], manifest: dict[str, Any], args: argparse.Namespace) -> str:
    cases = list(result)
    lines = [f"median [min..max] over {args.rounds} round(s); runs that failed are left out of the figures", ""]
    columns = {name: digits for name, (_, digits) in FIGURES.items()}
    lines += _table(["case", "ok", *columns],
                    [[case, f"{result[case]['ok']}/{result[case]['runs']}",
                      *(show(result[case]["figures"][name], digits) for name, digits in columns.items())]
                     for case in cases])
    lines += ["", f"politeness at the server (delay {args.delay:g} s, slack {1000 * args.slack:g} ms; 'under half': "
              "gaps under half the delay; 'hosts': hosts with a pair too close)", ""]
    lines += _table(["case", *BREACHES],
                    [[case, *(show(result[case]["breaches"][name], digits) for name, (_, digits) in BREACHES.items())]
                     for case in cases])
    lines += ["", f"ratios to {BASELINE}, round by round", ""]
    lines += _table(["case", *RATIOS],
                    [[case, *(show(result[case]["ratios"][name], 3) for name in RATIOS)]
                     for case in cases if case != BASELINE])
    lines += ["", *limit_lines(result, manifest, args)]
    for case in cases:
        lines += [f"{case}: {note}" for note in result[case]["notes"]]
    return "\n".join(lines)


def visits(case: str, args: argparse.Namespace) -> limits.Visits:
    """What `case` asks each host for besides its pages: the project as its settings in
    this environment say (command() passes them on), Scrapy and scrapy-redis as
    `--scrapy-set` leaves them."""
    return limits.project_visits(os.environ) if case.startswith("project") else limits.scrapy_visits(args.scrapy_set)


def limit_lines(result: dict[str, Any], manifest: dict[str, Any], args: argparse.Namespace) -> list[str]:
    hosts, pages = len(manifest["hosts"]), manifest["html_pages"]
    cores = os.cpu_count() or 1
    lines = [f"politeness limit: {hosts} hosts / {args.delay:g} s = {hosts / args.delay:.0f} requests/s"]
    for case, figures in result.items():
        asks = visits(case, args)
        slowest = limits.slowest_host_seconds(manifest, asks, args.delay)
        lines.append(f"slowest host for {case}: {slowest:.1f} s to crawl alone (its pages, {asks.describe()}), "
                     f"so at most {pages / slowest:.1f} pages/s over the {pages} pages")
        cpu = figures["figures"]["CPU ms/page"]
        if cpu:
            lines.append(f"CPU limit of {case}: {cores} cores / {cpu['median']:.2f} ms "
                         f"= {1000 * cores / cpu['median']:.0f} pages/s")
    return lines


def run_line(run: Run) -> str:
    verdict = run.politeness
    cpu = f"{run.cpu_ms_per_page:.2f}" if run.cpu_ms_per_page is not None else "-"
    return (
        f"round {run.round} {run.case:<12} {'ok' if run.ok else 'FAILED'}  pages {run.pages}  "
        f"wall {run.wall_s:.1f} s  {run.pages_per_s:.1f} pages/s  CPU {run.cpu_s:.1f} s ({cpu} ms/page, "
        f"Redis {run.redis_cpu_s:.1f})  peak RSS {run.peak_rss_mb:.0f} MB  requests {verdict.requests}  "
        f"too close {verdict.too_close} ({verdict.under_half} under half)  overlaps {verdict.overlaps}  "
        f"repeats {verdict.repeats}  disallowed {verdict.disallowed}{'  ' + run.note if run.note else ''}"
    )
