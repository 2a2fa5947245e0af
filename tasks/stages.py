"""The stages of one URL, each a task on its own queue, chained per URL:
``fetch.s(job, lease) | parse.s() | store.s()``, and for a page the job renders
``fetch | render | parse | store``: the fetch stage puts the render stage in the chain
once it has the page and knows it is HTML (`fate.decide_render`). Each body asks
pipeline.crawl.fate what to do and translates the answer: the next stage, the same task
again later, or the end of the chain.

A task that waits or ends its chain returns rather than raising Celery's `Retry` or
`Ignore`: the worker builds a formatted traceback for each of those, and on a broad
crawl, where many URLs wait for their host's turn or their retry, that was 6% of a
worker's CPU.

A worker that consumes the parse and store queues as well as fetch runs the rest of the
chain itself, at once, instead of sending it through the broker: the page never leaves
the process, and two of a URL's three messages are never published, consumed or acked.
Where the stages run on different workers, the chain goes through their queues. Either
way the fetch message is acknowledged only when its task returns, so a worker killed
mid-chain leaves the URL to be fetched again under the same lease. The same holds for
render: a worker that consumes the render queue renders in its own browser at once."""

from __future__ import annotations

from typing import Any

from celery.signals import worker_process_init, worker_ready

from pipeline.crawl import Payload, fate
from pipeline.frontier import HeldSlot, Lease
from pipeline.settings import RENDER_NEVER
from tasks.app import app, runtime
from tasks.names import FETCH, PARSE, QUEUES, RENDER, STORE

# Seconds a render task may take past the page's own budget before Celery stops it (the
# browser kills a hung page itself well before).
RENDER_SLACK = 30.0


@app.task(bind=True, name=FETCH, max_retries=None)
def fetch(self: Any, job: str, lease_data: dict[str, Any], attempt: int = 0, robots_site: str | None = None) -> Any:
    carries_on = consumes(PARSE, STORE)
    outcome = fate.attempt_fetch(runtime(), job, Lease.from_json(lease_data), attempt, robots_site, hold=carries_on)
    match outcome:
        case fate.Fetched(payload, handoff, held):
            send(job, handoff)
            try:
                return after_fetch(self, payload, held, carries_on)
            except Exception:
                # The host's slot must not wait for the lease to expire.
                send(job, fate.release(runtime(), payload, held))
                raise
        case fate.Deferred(handoff):
            # The URL waits in the frontier for its retry: this chain ends here.
            send(job, handoff)
        case fate.WaitAt(countdown, site):
            return again(self, (job, lease_data, attempt, site), countdown)
    return end_chain(self)


def after_fetch(task: Any, payload: Payload, held: HeldSlot | None, carries_on: bool) -> Any:
    """The fetched page to the browser, to the parse stage, or parsed and stored here at
    once when this worker takes their queues (`carries_on`; freeing the host slot the
    fetch `held`)."""
    payload = fate.decide_render(runtime(), payload)
    if payload.render is not None and payload.render.to_browser:
        send(payload.job, fate.release(runtime(), payload, held))
        task.request.chain = None
        to_render(payload)
        return None
    if not carries_on:
        return payload.to_json()
    task.request.chain = None
    carry_on(payload, held)
    return None


@app.task(bind=True, name=RENDER, max_retries=None)
def render(self: Any, payload: dict[str, Any]) -> Any:
    match fate.render(runtime(), Payload.from_json(payload)):
        case fate.Fetched(rendered, handoff):
            send(rendered.job, handoff)
            if not consumes(PARSE, STORE):
                return rendered.to_json()
            self.request.chain = None
            carry_on(rendered)
            return None
        case fate.Held(held, countdown):
            return again(self, (held.to_json(),), countdown)
    return end_chain(self)


@app.task(name=PARSE)
def parse(payload: dict[str, Any]) -> dict[str, Any]:
    return fate.parse(runtime(), Payload.from_json(payload)).to_json()


@app.task(bind=True, name=STORE, max_retries=None)
def store(self: Any, payload: dict[str, Any], attempt: int = 0) -> None:
    outcome = fate.finish(runtime(), Payload.from_json(payload), attempt)
    match outcome:
        case fate.Stored(handoff):
            send(payload["job"], handoff)
            return
        case fate.RetryAt(countdown, next_attempt):
            return again(self, (payload, next_attempt), countdown)
    return end_chain(self)


def again(task: Any, args: tuple[Any, ...], countdown: float) -> None:
    """The same task with `args` in `countdown` seconds, the rest of its chain with it;
    this run ends without passing anything on. Celery's own retry, without the exception."""
    task.retry(args=args, countdown=countdown, throw=False)
    return end_chain(task)


def end_chain(task: Any) -> None:
    """This run is the chain's last: what would follow it is not sent."""
    task.request.chain = None
    return None


def consumes(*tasks: str) -> bool:
    """Whether this worker takes the queues of `tasks` (``-Q``, or every queue without it)."""
    queues = app.amqp.queues.consume_from
    return all(QUEUES[task] in queues for task in tasks)


def to_render(payload: Payload) -> None:
    """Render the page here when this worker takes the render queue and its host's turn
    (and, under render=auto, its verdict) has come (and parse and store it too, when it
    takes their queues), else send it on as ``render | parse | store``, after the wait."""
    countdown = None
    if consumes(RENDER):
        match fate.render(runtime(), payload):
            case fate.Fetched(rendered, handoff):
                send(rendered.job, handoff)
                if consumes(PARSE, STORE):
                    carry_on(rendered)
                else:
                    parse.apply_async((rendered.to_json(),), chain=[store.s()])
                return
            case fate.Held(held, wait):
                payload, countdown = held, wait
            case _:
                return
    limit = runtime().policy(payload.job).render_timeout + RENDER_SLACK
    render.apply_async((payload.to_json(),), chain=[store.s(), parse.s()], countdown=countdown, time_limit=limit,
                       soft_time_limit=limit - 10, argsrepr=repr(payload.lease.url), kwargsrepr="{}")


@worker_ready.connect
def start_browser(sender: Any, **_: Any) -> None:
    """A worker that will render launches its browser as it starts, not on its first
    page, whose parse (and with it a new job's first links) would wait out the launch.
    Under prefork the pool's processes render, each launching its own (below)."""
    if not type(sender.pool).__module__.endswith(".prefork"):
        _start_browser()


@worker_process_init.connect
def start_child_browser(**_: Any) -> None:
    _start_browser()


def _start_browser() -> None:
    """Launched when this worker takes the render queue and either renders by default
    (CRAWLER_RENDER) or takes no fetch queue, so renders alone."""
    if consumes(RENDER) and (runtime().settings.policy.render != RENDER_NEVER or not consumes(FETCH)):
        runtime().browser.start()


def carry_on(payload: Payload, held: HeldSlot | None = None) -> None:
    """Parse and store here what this worker just fetched, as the chain's next two tasks
    would; a store that must wait is retried from the store queue, like theirs."""
    parsed = fate.parse(runtime(), payload)
    match fate.finish(runtime(), parsed, renewed=True, held=held):
        case fate.Stored(handoff) | fate.Abandon(_, handoff):
            send(parsed.job, handoff)
        case fate.RetryAt(countdown, attempt, handoff):
            send(parsed.job, handoff)
            store.apply_async((parsed.to_json(), attempt), countdown=countdown)


def send(job: str, leases: list[Lease]) -> None:
    """Hand each lease to Celery as its own fetch | parse | store chain, under the time
    limit the job's policy implies.

    The chain is given as the message protocol carries it (the tasks after the first, last
    first) rather than built as a canvas for each URL, and the message's `argsrepr` is the
    URL, which is what Flower should show: both together halve the cost of a send."""
    if not leases:
        return
    limit = runtime().policy(job).fetch_time_limit
    rest = [store.s(), parse.s()]
    for lease in leases:
        fetch.apply_async(
            (job, lease.to_json()), chain=rest, countdown=lease.countdown if lease.countdown > 0.01 else None,
            time_limit=limit, soft_time_limit=limit - 10, argsrepr=repr(lease.url), kwargsrepr="{}",
        )
