"""The beat-scheduled dispatcher: a heartbeat that re-queues expired leases and tops up
each running job's window. The pace of a crawl comes from hand-offs in the stages;
this tick only catches what they cannot (new seeds, delays, dead workers)."""

from __future__ import annotations

from pipeline import keys
from pipeline.context import Context
from pipeline.frontier import PAUSED, RUNNING, list_jobs
from tasks.app import app, runtime
from tasks.stages import send


def tick(ctx: Context) -> int:
    """One pass over every job; returns how many URLs were handed out."""
    sent = 0
    for job in list_jobs(ctx.redis):
        frontier = ctx.frontier(job)
        if frontier.state() not in (RUNNING, PAUSED):
            continue
        _, leases = frontier.tick(ctx.policy(job))
        send(job, leases)
        sent += len(leases)
    return sent


def locked_tick(ctx: Context) -> int | None:
    """`tick` under the cluster-wide dispatcher lock; None when another holds it."""
    lock = ctx.redis.lock(keys.DISPATCH_LOCK, timeout=max(10.0, ctx.settings.dispatch_interval * 10), blocking=False)
    if not lock.acquire():
        return None
    try:
        return tick(ctx)
    finally:
        lock.release()


@app.task(name="crawler.dispatch")
def dispatch() -> int | None:
    return locked_tick(runtime())
