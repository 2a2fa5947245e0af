"""What `crawler crawl` and `crawler status --watch` show while a job runs: a live view
in a terminal that fits its width, a plain line at a steady cadence anywhere else (logs,
CI); and the lines of `crawler status`."""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass, replace

from rich.console import Console, ConsoleOptions, Group, RenderableType, RenderResult
from rich.live import Live
from rich.measure import Measurement
from rich.progress_bar import ProgressBar
from rich.table import Table
from rich.text import Text

from pipeline.errors import ConfigError
from pipeline.frontier import Frontier, HostBackoff, HostView, JobState, JobStats, Limit
from pipeline.settings import DEDUP_BLOOM, ENV_PREFIX, Policy
from pipeline.store import DueCounts
from tasks.cli.pace import Pace, RecentRate, RunPace, is_over, job_pace, pages

# Off a terminal, a progress line each PLAIN_FIRST_EVERY seconds during the first
# PLAIN_FIRST seconds (a short crawl, the demo's, shows its progress), then each
# PLAIN_EVERY seconds (a crawl of hours writes 6 lines a minute); a last one at the end.
PLAIN_FIRST, PLAIN_FIRST_EVERY, PLAIN_EVERY = 10.0, 1.0, 10.0
BAR_WIDTH = 40
UNBOUNDED = 10_000
DEFAULT_MAX_PAGES = Policy().max_pages


@dataclass(frozen=True)
class Column:
    """One total of the live view's table."""

    header: str
    value: str


# The totals, most wanted first: a narrow terminal shows the first ones that fit.
PRIORITY = ("stored", "queued", "failed", "leased", "revisited", "dropped", "disallowed", "hosts paused",
            "revisits waiting", "fetched OK", "requeued")


def columns(stats: JobStats) -> list[Column]:
    """The job's totals, in the order they are shown."""
    shown = [
        Column("stored", str(stats.stored)), Column("fetched OK", str(stats.fetched_ok)),
        Column("failed", str(stats.failed)),
    ]
    if stats.blocked:
        shown.append(Column("disallowed", str(stats.blocked)))
    if stats.revisits or stats.revisits_waiting:
        shown += [Column("revisited", str(stats.revisited)), Column("revisits waiting", str(stats.revisits_waiting))]
    return [
        *shown, Column("queued", str(stats.queued)), Column("leased", str(stats.leased)),
        Column("requeued", str(stats.requeued)), Column("dropped", str(sum(stats.dropped.values()))),
        Column("hosts paused", str(stats.backing_off)),
    ]


def table(stats: JobStats, shown: list[Column] | None = None) -> Table:
    grid = Table(title=f"job {stats.job}: {stats.state}", show_header=True, header_style="bold")
    cells = columns(stats) if shown is None else shown
    for column in cells:
        grid.add_column(column.header, justify="right")
    grid.add_row(*(column.value for column in cells))
    return grid


class Totals:
    """The totals table with as many columns as the width holds, the least wanted ones
    left out first: a narrow terminal gets fewer columns, never cut words."""

    def __init__(self, stats: JobStats) -> None:
        self.stats = stats

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        every = columns(self.stats)
        ranked = sorted(every, key=lambda column: PRIORITY.index(column.header))
        # Measured as if the room were unbounded: the width each column needs on one line.
        unbounded = options.update_width(UNBOUNDED)
        for keep in range(len(ranked), 0, -1):
            kept = {column.header for column in ranked[:keep]}
            grid = table(self.stats, [column for column in every if column.header in kept])
            if Measurement.get(console, unbounded, grid).maximum <= options.max_width or keep == 1:
                yield grid
                return


def hosts_table(hosts: list[HostView]) -> Table:
    grid = Table(title="busiest hosts", show_header=True, header_style="bold", title_justify="left")
    grid.add_column("host", overflow="fold")
    grid.add_column("in flight", justify="right")
    grid.add_column("queued", justify="right")
    grid.add_column("paused", overflow="fold")
    for host in hosts:
        grid.add_row(host.host, str(host.in_flight), str(host.queued), _pause(host))
    return grid


def _pause(host: HostView) -> str:
    return f"{host.paused_for:g} s: {host.reason}" if host.paused_for else ""


class Bar:
    """How much of --max-pages the job has used (URLs handed out, revisits apart), the
    bar as wide as the line leaves room for beside its label."""

    def __init__(self, stats: JobStats, bound: int) -> None:
        self.done, self.bound = min(stats.dispatched, bound), bound

    def label(self) -> str:
        return f"{self.done} of {self.bound} pages ({100 * self.done / self.bound:.0f}%)"

    def __rich_console__(self, console: Console, options: ConsoleOptions) -> RenderResult:
        label = self.label()
        width = min(BAR_WIDTH, options.max_width - len(label) - 1)
        if width < BAR_WIDTH // 4:
            yield Text(label)
            return
        grid = Table.grid(padding=(0, 1))
        grid.add_row(ProgressBar(total=self.bound, completed=self.done, width=width), label)
        yield grid


def view(stats: JobStats, pace: Pace, hosts: list[HostView], bound: int) -> RenderableType:
    """The live view: the totals, the rate, the progress toward the user's --max-pages
    (`bound`, 0: none), the busiest hosts."""
    parts: list[RenderableType] = [Totals(stats), Text(pace.text())]
    if bound:
        parts.append(Bar(stats, bound))
    if hosts:
        parts.append(hosts_table(hosts))
    return Group(*parts)


def user_bound(policy: Policy, given: bool) -> int:
    """The max_pages to show progress toward: the user's, given now (`given`) or when
    the job was seeded; the built-in default is a safety net, not the user's target."""
    return policy.max_pages if given or policy.max_pages != DEFAULT_MAX_PAGES else 0


def hosts_line(hosts: list[HostView]) -> str:
    """The busiest hosts in one line, for logs."""
    parts = [f"{h.host} {h.in_flight} in flight, {h.queued} queued" + (f", paused {_pause(h)}" if h.paused_for else "")
             for h in hosts]
    return "  busiest: " + "; ".join(parts)


def line(stats: JobStats, pace: Pace, bound: int = 0) -> str:
    """The totals and the rate in one line, for logs and `crawler status`."""
    dropped = sum(stats.dropped.values())
    return (
        f"job {stats.job} {stats.state}: stored {stats.stored} "
        f"({outcomes(stats)}), "
        + (f"revisited {stats.revisited}, " if stats.revisits else "")
        + f"queued {stats.queued}, "
        f"leased {stats.leased}, " + (f"dropped {dropped}, " if dropped else "")
        + f"hosts paused {stats.backing_off}; {pace.text()}"
        + (f"; {Bar(stats, bound).label()}" if bound else "")
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


def discovered_line(stats: JobStats) -> str:
    """How many hosts the job gave URLs to crawl (the seeds' included), and how many new
    ones max_hosts kept out."""
    refused = f" ({stats.hosts_refused} more kept out by max_hosts)" if stats.hosts_refused else ""
    return f"  hosts discovered: {stats.hosts}{refused}"


def outcomes(stats: JobStats) -> str:
    """"198 fetched OK, 2 failed", and ", 40 disallowed" when robots.txt kept links out."""
    said = f"{stats.fetched_ok} fetched OK, {stats.failed} failed"
    return said + (f", {stats.blocked} disallowed" if stats.blocked else "")


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
    """Shows successive JobStats; use as a context manager around the wait loop. `run`:
    this run's pace, which `crawler crawl` shows; without it (a watch), the job's."""

    def __init__(self, console: Console, run: RunPace | None = None,
                 clock: Callable[[], float] = time.monotonic) -> None:
        self.console = console
        self.run = run
        self.clock = clock
        self.recent = RecentRate()
        self._live: Live | None = None
        self._began = clock()
        self._last_plain: float | None = None
        self._final_shown = False

    def __enter__(self) -> Display:
        if self.console.is_terminal:
            self._live = Live(console=self.console, refresh_per_second=4, transient=False)
            self._live.__enter__()
        return self

    def sample(self, stats: JobStats) -> None:
        """A look between two shows: this run's pace learns when its first page came."""
        self._look(stats, self.clock())

    def show(self, stats: JobStats, hosts: list[HostView] | None = None, bound: int = 0) -> None:
        """`hosts`: the busiest ones, listed below the totals; `bound`: the user's
        max_pages, shown as a progress bar (0: none)."""
        now = self.clock()
        pace = self.pace(stats, now)
        if self._live is not None:
            self._live.update(view(stats, pace, hosts or [], bound))
        elif self._plain_due(now, is_over(stats)):
            self._last_plain = now
            self.console.print(line(stats, pace, bound), highlight=False)
            if hosts:
                self.console.print(hosts_line(hosts), highlight=False)

    def pace(self, stats: JobStats, now: float) -> Pace:
        """This run's pace (the job's without a run), with the recent rate while it runs."""
        looked = self._look(stats, now)
        recent = None if is_over(stats) else looked
        if self.run is None:
            return replace(job_pace(stats, time.time()), recent=recent)
        return self.run.pace(now, recent)

    def _look(self, stats: JobStats, now: float) -> float:
        """The recent rate as of this look. Until this run's first page its window starts
        anew at each look: the workers' start is not part of the run's recent pace."""
        if self.run is not None:
            self.run.update(stats, now)
            if self.run.waiting:
                self.recent = RecentRate()
        return self.recent.update(pages(stats), now)

    def _plain_due(self, now: float, over: bool) -> bool:
        """The first look, then at the cadence of PLAIN_EVERY, and once the job is over."""
        if over:
            due, self._final_shown = not self._final_shown, True
            return due
        if self._last_plain is None:
            return True
        every = PLAIN_FIRST_EVERY if now - self._began < PLAIN_FIRST else PLAIN_EVERY
        return now - self._last_plain >= every

    def __exit__(self, *exc: object) -> None:
        if self._live is not None:
            self._live.__exit__(None, None, None)


def busiest(frontier: Frontier, stats: JobStats) -> list[HostView]:
    """The hosts worth a look while the job runs; none once it is over."""
    return frontier.busiest_hosts() if stats.state not in (JobState.FINISHED, JobState.CANCELLED) else []


def watch(frontiers: list[Frontier]) -> int:
    """The live view of a job until it is over, or until Ctrl-C: the way a user ends a
    watch, so not an error."""
    console = Console(soft_wrap=True)
    if len(frontiers) != 1:
        raise ConfigError("--watch needs --job")
    frontier = frontiers[0]
    try:
        with Display(console) as display:
            while True:
                stats = frontier.stats()
                display.show(stats, busiest(frontier, stats), user_bound(frontier.policy(), given=False))
                if stats.state in (JobState.FINISHED, JobState.CANCELLED):
                    return 0
                time.sleep(1)
    except KeyboardInterrupt:
        return 0
