"""What `crawler crawl` says when the job is over: the summary, the seeds that failed
and why, and the report it writes (which `crawler report` also makes)."""

from __future__ import annotations

import sys
from pathlib import Path

from rich.console import Console

from pipeline.frontier import JobStats, Limit
from pipeline.report import render_html, summarize
from pipeline.settings import Settings
from pipeline.store import Store, open_store
from pipeline.urls import redact
from tasks.cli.pace import Pace, pages
from tasks.cli.progress import blocked_line, limit_lines, outcomes, stopped_short


def summary(stats: JobStats, pace: Pace, settings: Settings, console: Console) -> None:
    """The end of a crawl: what the job stored, how fast this run went (a resumed or
    recrawled job's earlier runs and the idle time between them apart), and what the
    limits kept out, if anything (a finished job may not have crawled all it found)."""
    whole = pace.pages == pages(stats)
    console.print(
        f"job {stats.job} {ending(stats)}: {stats.stored} stored{'' if whole else ' in all'} "
        f"({outcomes(stats)}){left_queued(stats)}"
        f"{_this_run(pace, whole)}; records in {redact(settings.store_url)} "
        f"(crawler export --job {stats.job} --format jsonl)",
        highlight=False,
    )
    if settings.warc_dir:
        where = settings.warc_upload_url or str(Path(settings.warc_dir).resolve())
        console.print(f"WARC files in {where}", highlight=False)
    if (blocked := blocked_line(stats)) is not None:
        console.print(blocked.strip(), highlight=False)
    if stats.revisited:
        console.print(f"{stats.revisited} revisits stored (all passes of the job)", highlight=False)
    if stats.stopped_short:
        for text in [stopped_short(stats), *limit_lines(stats)]:
            console.print(text, highlight=False)


def _this_run(pace: Pace, whole: bool) -> str:
    """The run's pace; and its pages, when the job has more than this run stored."""
    if whole:
        return f", {pace.text()}"
    if not pace.pages:
        return "; this run fetched nothing"
    return f"; this run fetched {pace.pages} pages, {pace.text()}"


def ending(stats: JobStats) -> str:
    """How the job ended: a job that max_pages stopped did not finish its crawl."""
    if stats.dropped.get(Limit.MAX_PAGES):
        return f"stopped at its max_pages limit ({stats.dispatched} URLs)"
    return stats.state


def left_queued(stats: JobStats) -> str:
    return f", {stats.queued} URLs left queued" if stats.dropped.get(Limit.MAX_PAGES) and stats.queued else ""


def report_after_crawl(settings: Settings, job: str, stats: JobStats, out: Console) -> None:
    """The crawl is done and stored whatever happens here: a report that cannot be
    written (a read-only directory) is said so, not an error of the crawl."""
    store = open_store(settings.store_url)
    try:
        if store.count(job):
            out.print(f"report: {write_report(store, job, stats.dropped, None)}", highlight=False)
    except OSError as exc:
        print(f"crawler: the report was not written: {exc} (crawler report --job {job} --output FILE)",
              file=sys.stderr)
    finally:
        store.close()


def unfetched_seeds(store: Store, job: str, seeds: list[str], console: Console) -> int:
    """Say why each seed that failed failed (a refused address, a name that does not
    resolve, an HTTP error): the reason is otherwise only in its record. Returns how many
    seeds got no response at all."""
    unfetched = 0
    for record in store.pages(job, seeds):
        if record.error:
            console.print(redact(f"seed {record.url} failed: {record.error}"), highlight=False)
        unfetched += record.status is None
    return unfetched


def write_report(store: Store, job: str, dropped: dict[str, int], output: str | None) -> Path:
    """The job's report from its records, as one HTML file; returns where it went."""
    extractors = (item.extractor for _, item in store.items(job))
    path = Path(output or f"report-{job}.html")
    path.write_text(render_html(summarize(job, store.records(job), extractors, dropped)), encoding="utf-8")
    return path.resolve()
