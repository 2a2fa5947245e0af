"""The links a process has already sent to a job's frontier, so that it does not send
them again: a page's links are mostly the ones the pages before it listed (navigation,
footers, indexes), and for each of them the frontier's script would only find the URL
seen and its depth not lowered.

Sending a link again changes nothing when it was sent before, under the same policy,
from a page at the same depth or shallower: a seen URL only ever takes a smaller depth,
and what a limit kept out (too deep, its host's budget spent) is kept out again. A new
policy (the job re-seeded) may let in what was kept out, so it starts afresh."""

from __future__ import annotations

import threading

from cachetools import LRUCache

Entry = tuple[str, str]  # (url, kind), as Found.entries lists them


class SentLinks:
    """A bounded memory of (url, kind) -> the smallest depth of a page that sent it."""

    def __init__(self, size: int) -> None:
        self._depths: LRUCache[Entry, int] = LRUCache(maxsize=size)
        self._version: int | None = None
        self._lock = threading.Lock()

    def unsent(self, entries: list[Entry], depth: int, version: int) -> list[Entry]:
        """Those of `entries`, listed by a page at `depth`, that sending could still change."""
        with self._lock:
            if not self._current(version):
                return entries
            return [entry for entry in entries if self._depths.get(entry, depth + 1) > depth]

    def sent(self, entries: list[Entry], depth: int, version: int) -> None:
        """`entries` reached the frontier from a page at `depth` under policy `version`."""
        with self._lock:
            if not self._current(version):
                return
            for entry in entries:
                if self._depths.get(entry, depth + 1) > depth:
                    self._depths[entry] = depth

    def _current(self, version: int) -> bool:
        """Policy versions only grow: a newer one starts afresh, an older one (a call
        answered after the job was re-seeded) is neither trusted nor remembered."""
        if self._version is None or version > self._version:
            self._depths.clear()
            self._version = version
        return version == self._version
