"""Stored URLs fetched again. A recrawl pass makes a job's stored URLs due at once; a
continuous job's URLs come due one by one, on their own schedule. Either way the store
feeds them to the frontier a batch at a time, through its index on next_fetch_at, so
Redis holds at most `batch` revisits of a job, never its whole history."""

from __future__ import annotations

import time

from pipeline.errors import JobNotFound
from pipeline.fetch import utc_text
from pipeline.frontier import Frontier, JobState, RecordKind, Revisit
from pipeline.store import Record, Store


def start_recrawl(frontier: Frontier, store: Store, older_than: float | None = None) -> int:
    """Make the job's stored URLs (only those last fetched more than `older_than` seconds
    ago, when given) due now, and begin a pass over them; returns how many are due."""
    if not frontier.exists():
        raise JobNotFound(f"no job named {frontier.job!r}")
    now = time.time()
    before = None if older_than is None else utc_text(now - older_than)
    count = store.make_due(frontier.job, now, before)
    # After the store: a feeder that sees the pass must find its URLs due.
    frontier.recrawl()
    return count


def feed(frontier: Frontier, store: Store, batch: int) -> int:
    """Top the job's revisits waiting in Redis up to `batch` with the store's due URLs;
    returns how many were queued. A recrawl pass whose URLs are all fed in ends here."""
    job = frontier.feed_state()
    if job.state != JobState.RUNNING or (job.feeding is None and frontier.policy().revisit_interval <= 0):
        return 0
    room = batch - job.waiting
    if room <= 0:
        return 0
    now = time.time()
    records = store.due(frontier.job, now, room)
    queued = frontier.revisit([_revisit(record) for record in records], len(records) < room, job.feeding or "")
    # After the frontier: if this fails, the next feed offers them again, and the
    # frontier skips those still waiting or leased.
    store.mark_fed(frontier.job, [(record.url, record.kind) for record in records], now)
    return queued


def _revisit(record: Record) -> Revisit:
    return Revisit(record.url, RecordKind(record.kind), record.depth, record.prior())
