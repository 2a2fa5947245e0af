"""What `crawler crawl` and `crawler status --watch` show while a job runs: a live
table in a terminal, a plain line every few seconds anywhere else (logs, CI)."""

from __future__ import annotations

import time
from collections import deque

from rich.console import Console, Group, RenderableType
from rich.live import Live
from rich.progress_bar import ProgressBar
from rich.table import Table

from pipeline.errors import ConfigError
from pipeline.frontier import Frontier, HostBackoff, HostView, JobState, JobStats, Limit
from pipeline.settings import DEDUP_BLOOM, ENV_PREFIX, Policy
from pipeline.store import DueCounts

PLAIN_EVERY = 5.0
RATE_WINDOW = 10.0


class Rate:
    """Pages per second over the last few seconds, from successive counts of pages stored
    (or stored again by a revisit)."""

    def __init__(self) -> None:
        self._samples: deque[tuple[float, int]] = deque()

    def update(self, stored: int) -> float:
        now = time.monotonic()
        self._samples.append((now, stored))
        while len(self._samples) > 2 and now - self._samples[0][0] > RATE_WINDOW:
            self._samples.popleft()
        first_time, first_stored = self._samples[0]
        if now - first_time <= 0:
            return 0.0
        return (stored - first_stored) / (now - first_time)


def average_rate(stats: JobStats) -> float:
    """The job's pages/s, the one figure the live view, `crawler status` and the summary
    give: pages stored (and stored again by revisits) over the job's time, seeded to
    finished (or to now while it runs)."""
    if not stats.started_at:
        return 0.0
    elapsed = (stats.finished_at or time.time()) - stats.started_at
    return (stats.stored + stats.revisited) / elapsed if elapsed > 0 else 0.0


def _running(stats: JobStats) -> bool:
    return stats.finished_at is None and stats.state not in (JobState.FINISHED, JobState.CANCELLED)


def table(stats: JobStats, recent: float) -> Table:
    """The totals; while the job runs, also the rate over the last RATE_WINDOW seconds."""
    grid = Table(title=f"job {stats.job}: {stats.state}", show_header=True, header_style="bold")
    columns = ["stored", "fetched OK", "failed", "queued", "leased", "requeued", "dropped", "hosts paused", "pages/s"]
    values = [
        str(stats.stored), str(stats.stored - stats.errors), str(stats.errors), str(stats.queued), str(stats.leased),
        str(stats.requeued), str(sum(stats.dropped.values())), str(stats.backing_off), f"{average_rate(stats):.1f}",
    ]
    if _running(stats):
        columns.append(f"last {RATE_WINDOW:g} s")
        values.append(f"{recent:.1f}")
    if stats.revisits or stats.revisits_waiting:
        columns[3:3] = ["revisited", "revisits waiting"]
        values[3:3] = [str(stats.revisited), str(stats.revisits_waiting)]
    for column in columns:
        grid.add_column(column, justify="right")
    grid.add_row(*values)
    return grid


def hosts_table(hosts: list[HostView]) -> Table:
    grid = Table(title="busiest hosts", show_header=True, header_style="bold", title_justify="left")
    grid.add_column("host")
    grid.add_column("in flight", justify="right")
    grid.add_column("queued", justify="right")
    grid.add_column("paused")
    for host in hosts:
        grid.add_row(host.host, str(host.in_flight), str(host.queued), _pause(host))
    return grid


def _pause(host: HostView) -> str:
    return f"{host.paused_for:g} s: {host.reason}" if host.paused_for else ""


def progress_bar(stats: JobStats, bound: int) -> Table:
    """How much of --max-pages the job has used (URLs handed out, revisits apart)."""
    done = min(stats.dispatched, bound)
    grid = Table.grid(padding=(0, 1))
    grid.add_row(ProgressBar(total=bound, completed=done, width=40), f"{done} of {bound} pages ({_share(done, bound)})")
    return grid


def _share(done: int, bound: int) -> str:
    return f"{100 * done / bound:.0f}%"


def view(stats: JobStats, recent: float, hosts: list[HostView], bound: int) -> RenderableType:
    """The live view: the totals, the progress toward a known bound, the busiest hosts."""
    parts: list[RenderableType] = [table(stats, recent)]
    if bound:
        parts.append(progress_bar(stats, bound))
    if hosts:
        parts.append(hosts_table(hosts))
    return Group(*parts)


def hosts_line(hosts: list[HostView]) -> str:
    """The busiest hosts in one line, for logs."""
    parts = [f"{h.host} {h.in_flight} in flight, {h.queued} queued" + (f", paused {_pause(h)}" if h.paused_for else "")
             for h in hosts]
    return "  busiest: " + "; ".join(parts)


def line(stats: JobStats, recent: float | None = None, bound: int = 0) -> str:
    """The totals in one line; `recent`: the rate over the last few seconds, while it runs."""
    dropped = sum(stats.dropped.values())
    return (
        f"job {stats.job} {stats.state}: stored {stats.stored} "
        f"({stats.stored - stats.errors} fetched OK, {stats.errors} failed), "
        + (f"revisited {stats.revisited}, " if stats.revisits else "")
        + f"queued {stats.queued}, "
        f"leased {stats.leased}, " + (f"dropped {dropped}, " if dropped else "")
        + f"hosts paused {stats.backing_off}, {average_rate(stats):.1f} pages/s"
        + (f" ({recent:.1f} in the last {RATE_WINDOW:g} s)" if recent is not None and _running(stats) else "")
        + (f", {min(stats.dispatched, bound)} of {bound} pages ({_share(min(stats.dispatched, bound), bound)})"
           if bound else "")
    )


def revisit_line(stats: JobStats, due: DueCounts, now: float) -> str:
    """What `crawler status` says of a job that revisits: what was revisited, what waits
    in Redis, and what the store has due now and later."""
    upcoming = f", the next in {max(0.0, due.next_at - now):.0f} s" if due.next_at is not None else ""
    return (
        f"  revisits: {stats.revisited} done, {stats.revisits_waiting} waiting; "
        f"due now {due.due}, later {due.later}{upcoming}"
    )


def bloom_warning(stats: JobStats, policy: Policy) -> str | None:
    """Past its capacity a Bloom filter takes more new URLs for seen than it was sized
    for: they are never crawled."""
    held = stats.seen + stats.blocked  # links robots.txt disallowed are in the filter too
    if policy.dedup != DEDUP_BLOOM or held <= policy.bloom_capacity:
        return None
    return (
        f"  warning: the Bloom filter of job {stats.job} holds {held} URLs, past its capacity of "
        f"{policy.bloom_capacity}: more new URLs than {policy.bloom_error_rate:g} of them are taken for seen "
        "(start a new job with a larger CRAWLER_BLOOM_CAPACITY)"
    )


def backoff_lines(backoffs: list[HostBackoff]) -> list[str]:
    return [f"  {b.host} paused for {b.seconds_left:g} s more ({b.reason})" for b in backoffs]


def limit_lines(stats: JobStats) -> list[str]:
    """A line per limit that kept URLs out of the job, with the hosts that lost most for
    a per-host limit."""
    return [f"  limit {limit}: {_dropped(stats, limit)}" for limit in Limit if stats.dropped.get(limit)]


def blocked_line(stats: JobStats) -> str | None:
    """The links robots.txt disallowed, recorded without a request, and the hosts that had most."""
    if not stats.blocked:
        return None
    hosts = ", ".join(f"{host} {_urls(count)}" for host, count in stats.blocked_hosts.items())
    return f"  robots.txt: {_urls(stats.blocked)} disallowed, recorded without a request ({hosts})"


def stopped_short(stats: JobStats) -> str:
    """What a summary says of a job that limits kept from crawling all it found."""
    hit = [limit for limit in Limit if stats.dropped.get(limit)]
    kept = ", ".join(f"{limit} kept {_urls(stats.dropped[limit])} out" for limit in hit)
    variables = ", ".join(ENV_PREFIX + limit.upper() for limit in hit)
    return f"job {stats.job} stopped short: {kept} (raise {variables} to crawl them)"


def _dropped(stats: JobStats, limit: str) -> str:
    total = stats.dropped[limit]
    hosts = stats.dropped_hosts.get(limit)
    if not hosts:
        return f"dropped {_urls(total)}" + (" (left queued)" if limit == Limit.MAX_PAGES else "")
    parts = [f"{host} dropped {_urls(count)}" for host, count in hosts.items()]
    more = stats.hosts_at_limit.get(limit, 0) - len(hosts)
    if more > 0:
        parts.append(f"and {more} more hosts ({_urls(total)} in all)")
    return ", ".join(parts)


def _urls(count: int) -> str:
    return f"{count} URL" if count == 1 else f"{count} URLs"


class Display:
    """Shows successive JobStats; use as a context manager around the wait loop."""

    def __init__(self, console: Console) -> None:
        self.console = console
        self.rate = Rate()
        self._live: Live | None = None
        self._last_plain = 0.0

    def __enter__(self) -> Display:
        if self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def show(self, stats: JobStats, hosts: list[HostView] | None = None, bound: int = 0) -> None:
        """`hosts`: the busiest ones, listed below the totals; `bound`: the job's
        max_pages, shown as a progress bar (0: none)."""
        rate = self.rate.update(stats.stored + stats.revisited)
        if self._live is not None:
            self._live.update(view(stats, rate, hosts or [], bound))
        elif time.monotonic() - self._last_plain >= PLAIN_EVERY:
            self._last_plain = time.monotonic()
            self.console.print(line(stats, rate, bound), highlight=False)
            if hosts:
                self.console.print(hosts_line(hosts), highlight=False)

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)


def busiest(frontier: Frontier, stats: JobStats) -> list[HostView]:
    """The hosts worth a look while the job runs; none once it is over."""
    return frontier.busiest_hosts() if stats.state not in (JobState.FINISHED, JobState.CANCELLED) else []


def watch(frontiers: list[Frontier]) -> int:
    console = Console(soft_wrap=True)
    if len(frontiers) != 1:
        raise ConfigError("--watch needs --job")
    with Display(console) as display:
        while True:
            frontier = frontiers[0]
            stats = frontier.stats()
            display.show(stats, busiest(frontier, stats), frontier.policy().max_pages)
            if stats.state in (JobState.FINISHED, JobState.CANCELLED):
                return 0
            time.sleep(1)
