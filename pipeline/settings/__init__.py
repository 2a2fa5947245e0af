"""Every tunable of the crawler in one place: defaults, overridden by ``CRAWLER_*``
environment variables, overridden by CLI flags or ``seed()`` arguments.

Two frozen dataclasses: ``Settings`` (process.py) is what a process needs (where Redis
and the store are, how the dispatcher behaves), ``Policy`` (policy.py) is what one job
needs (limits, politeness, scope). A job's Policy is written to Redis when it is seeded,
so every worker on every host applies the same rules to it. Each setting's description
is declared with it (values.py, `setting`): the settings reference (docs/settings.md)
and the flags' help are made from it (reference.py).

Values are checked here only as far as they stand alone; a feature checks what it needs
of them itself (the Bloom filter, proxies, the WARC upload), where a command or worker
starts, so this package imports none of them.
"""

from pipeline.settings.policy import (
    DEDUP_BLOOM,
    DEDUP_EXACT,
    DEDUP_MODES,
    DEFAULT_USER_AGENT,
    MAX_SHARDS,
    RENDER_ALWAYS,
    RENDER_AUTO,
    RENDER_MODES,
    RENDER_NEVER,
    SCOPE_ANY,
    SCOPE_HOSTS,
    SCOPES,
    Policy,
)
from pipeline.settings.process import AMQP_SCHEMES, BROKER_SCHEMES, THREADS_PER_WORKER, WORKER_POOLS, Settings
from pipeline.settings.reference import doc, documented, reference, shown_default
from pipeline.settings.values import ENV_PREFIX, variable

__all__ = [
    "AMQP_SCHEMES",
    "BROKER_SCHEMES",
    "DEDUP_BLOOM",
    "DEDUP_EXACT",
    "DEDUP_MODES",
    "DEFAULT_USER_AGENT",
    "ENV_PREFIX",
    "MAX_SHARDS",
    "RENDER_ALWAYS",
    "RENDER_AUTO",
    "RENDER_MODES",
    "RENDER_NEVER",
    "SCOPES",
    "SCOPE_ANY",
    "SCOPE_HOSTS",
    "THREADS_PER_WORKER",
    "WORKER_POOLS",
    "Policy",
    "Settings",
    "doc",
    "documented",
    "reference",
    "shown_default",
    "variable",
]
