"""The Redis frontier: seen URLs, per-host queues and schedule, leases and counters, kept
by Lua scripts. Code outside the package imports what it needs from here: the Frontier
of a job, the values it takes and hands out, and the names it shares with its scripts."""

from pipeline.frontier.client import Frontier, list_jobs
from pipeline.frontier.data import (
    Completed,
    Failure,
    FeedState,
    Found,
    HeldSlot,
    HostBackoff,
    JobStats,
    Lease,
    LostLease,
    Revisit,
    Tick,
    in_policy_scope,
)
from pipeline.frontier.delays import DelaySource, HostDelay
from pipeline.frontier.hosts import HostView
from pipeline.frontier.names import HOST_LIMITS, JobState, Limit, Script, Stat
from pipeline.store import RecordKind

__all__ = [
    "HOST_LIMITS", "Completed", "DelaySource", "Failure", "FeedState", "Found", "Frontier", "HeldSlot", "HostBackoff",
    "HostDelay", "HostView", "JobState", "JobStats", "Lease", "Limit", "LostLease", "RecordKind", "Revisit", "Script",
    "Stat", "Tick", "in_policy_scope", "list_jobs",
]
