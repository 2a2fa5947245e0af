"""What happens to one URL and to a whole job, in plain Python that the Celery tasks
only translate: `fate` decides a leased URL's way through fetch | parse | store, `jobs`
holds the operations on a job (seed, recrawl, revisits, requeue, give up), and a
`Context` is what one worker process holds on to. The top of pipeline/: only tasks/
and the tests import it."""

from pipeline.crawl import fate, jobs
from pipeline.crawl.context import DEFAULT_REDIS_URL, Context, check, connect
from pipeline.crawl.payload import Payload
from pipeline.crawl.rendering import HostVerdict, RenderHosts
from pipeline.render import Choice

__all__ = [
    "DEFAULT_REDIS_URL", "Choice", "Context", "HostVerdict", "Payload", "RenderHosts", "check", "connect", "fate",
    "jobs",
]
