"""The links a process has already sent to its jobs' frontiers, so that it does not send
them again: a page's links are mostly the ones the pages before it listed (navigation,
footers, indexes), and for each of them the frontier's script would only find the URL
seen and its depth not lowered.

Sending a link again changes nothing when it was sent before, under the same policy,
from a page at the same depth or shallower: a seen URL only ever takes a smaller depth,
and what a limit kept out (too deep, its host's budget spent) is kept out again. A new
policy (the job re-seeded) may let in what was kept out, so what was sent under another
version is not trusted. One memory serves every job of the process, so its size bounds
the whole process, however many jobs it works for."""

from __future__ import annotations

import threading

from cachetools import LRUCache

from pipeline.store import RecordKind

Entry = tuple[str, RecordKind]  # (url, kind), as Found.entries lists them


class SentLinks:
    """A bounded memory of (job, url, kind) -> (policy version, smallest depth of a page that sent it)."""

    def __init__(self, size: int) -> None:
        self._sent: LRUCache[tuple[str, str, str], tuple[int, int]] = LRUCache(maxsize=size)
        self._lock = threading.Lock()

    def unsent(self, job: str, entries: list[Entry], depth: int, version: int) -> list[Entry]:
        """Those of `entries`, listed by a page of `job` at `depth`, that sending could still change."""
        with self._lock:
            return [entry for entry in entries if not self._known(job, entry, depth, version)]

    def sent(self, job: str, entries: list[Entry], depth: int, version: int) -> None:
        """`entries` reached the frontier of `job` from a page at `depth` under policy `version`."""
        with self._lock:
            for entry in entries:
                if not self._known(job, entry, depth, version):
                    self._sent[(job, *entry)] = (version, depth)

    def _known(self, job: str, entry: Entry, depth: int, version: int) -> bool:
        known = self._sent.get((job, *entry))
        return known is not None and known[0] == version and known[1] <= depth
