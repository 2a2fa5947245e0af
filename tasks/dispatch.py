"""The beat-scheduled dispatcher: a heartbeat that re-queues expired leases (and gives up
on URLs that lost their worker too often), feeds each job's due revisits in from the
store, and tops up each running job's window. The
pace of a crawl comes from hand-offs in the stages; this tick only catches what they
cannot (new seeds, delays, dead workers)."""

from __future__ import annotations

from celery.utils.log import get_task_logger
from redis.exceptions import LockError

from pipeline import keys
from pipeline.crawl import Context, jobs
from pipeline.errors import CrawlError
from pipeline.frontier import JobState, list_jobs
from tasks.app import app, runtime
from tasks.names import DISPATCH
from tasks.stages import send

logger = get_task_logger(__name__)


def tick(ctx: Context) -> int:
    """One pass over every job; returns how many URLs were handed out. One broken job
    (a half-deleted key set, a bad policy) is logged and skipped, not fatal to the rest."""
    sent = 0
    for job in list_jobs(ctx.redis):
        try:
            sent += _tick_job(ctx, job)
        except CrawlError:
            logger.exception("dispatching job %s failed", job)
    return sent


def _tick_job(ctx: Context, job: str) -> int:
    """Due revisits in from the store, expired leases back to the frontier, URLs whose
    workers were lost too often stored as failed, and what is due (hand-offs of those
    included) sent to the workers."""
    frontier = ctx.frontier(job)
    if frontier.state() not in (JobState.RUNNING, JobState.PAUSED):
        return 0
    jobs.feed_revisits(ctx, job)
    tick = frontier.tick()
    leases = tick.leases + jobs.give_up(ctx, job, tick.lost)
    send(job, leases)
    return len(leases)


def locked_tick(ctx: Context) -> int | None:
    """`tick` under the cluster-wide dispatcher lock; None when another holds it. The
    lock only saves work: the frontier's scripts are atomic, so an overlap is harmless."""
    lock = ctx.redis.lock(keys.DISPATCH_LOCK, timeout=max(10.0, ctx.settings.dispatch_interval * 10), blocking=False)
    if not lock.acquire():
        return None
    try:
        return tick(ctx)
    finally:
        try:
            lock.release()
        except LockError:
            logger.warning("the dispatcher lock expired during a tick")


# The heartbeat sends no task events: one a second would bury the fetch, parse and
# store tasks in Flower's task list. Beat sends no task-sent events for it either.
@app.task(name=DISPATCH, send_events=False)
def dispatch() -> int | None:
    return locked_tick(runtime())
