"""WARC 1.1 files of every HTTP exchange a worker process makes (warcio writes the
records). Each process writes its own files, so no two writers ever share one:

- a file is named ``{prefix}-{UTC timestamp}-{serial}-{hostname}-{pid}.warc.gz`` and is
  written as ``….warc.gz.open``, renamed without ``.open`` when it is closed (it reached
  its size, or the worker shut down);
- it starts with a ``warcinfo`` record, then each exchange as a ``response`` record and
  its ``request`` record, each record a gzip member of its own, appended in one write and
  handed to the OS at once: a worker killed mid-write leaves every complete record
  readable, and a pointer in the store never points at bytes still in a buffer;
- a revisit that brought nothing new (a 304 to its conditional request, or the payload
  digest of the last full response) is a ``revisit`` record instead of the response, as
  Heritrix writes them: its status line and headers, and where the payload is archived;
- a writer holds an flock on its file while it writes it: a `.open` file nobody holds
  was left by a killed worker, for pipeline/archive/orphans.py to adopt;
- records are built and compressed (pipeline/archive/records.py) outside the file's
  lock, so the threads of a worker only queue for the append itself. They are compressed
  there rather than by warcio, whose level 9 took 0.86 ms for a 30 KB page where level 3
  takes 0.34 ms for a file 6% larger (`CRAWLER_WARC_GZIP_LEVEL`).
"""

from __future__ import annotations

import fcntl
import io
import logging
import os
import socket
import threading
import time
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path

from pipeline.archive import records
from pipeline.fetch import ArchiveUnavailable, Exchange, WarcPointer

OPEN_SUFFIX = ".open"
EXTENSION = ".warc.gz"
# Seconds a URL waits when the WARC files cannot be written.
UNAVAILABLE_WAIT = 30.0
logger = logging.getLogger(__name__)
OnClosed = Callable[[Path], None]


class WarcWriter:
    """The WARC files of one worker process, shared by all its threads."""

    def __init__(
        self,
        directory: str,
        prefix: str,
        max_bytes: int,
        info: Mapping[str, str],
        on_closed: OnClosed | None = None,
        gzip_level: int = 3,
    ) -> None:
        self.directory = Path(directory)
        self.prefix = prefix
        self.max_bytes = max_bytes
        self.gzip_level = gzip_level
        self.info = dict(info)
        self.on_closed = on_closed
        self.hostname = socket.gethostname()
        self._lock = threading.Lock()
        self._file: io.FileIO | None = None
        self._name = ""
        self._pid = 0
        self._serial = 0
        self._unavailable_until = 0.0
        self._unavailable = ""

    def exchange(self, exchange: Exchange) -> WarcPointer:
        """Append the response (or revisit) and request records of `exchange`; where the
        response went."""
        record, revisit = records.answer(exchange)
        headers = record.rec_headers
        record_id = headers.get_header("WARC-Record-ID")
        first = records.gzipped(record, self.gzip_level)
        name, offset = self._append(first + records.gzipped(records.request(exchange, record_id), self.gzip_level))
        length = sum(len(part) for part in first)
        return WarcPointer(name, offset, length, record_id, headers.get_header("WARC-Payload-Digest"), revisit)

    def metadata(self, url: str, refers_to: str, fields: list[tuple[str, str]]) -> None:
        """A ``metadata`` record about the response record `refers_to` (application/warc-fields)."""
        self._append(records.gzipped(records.metadata(url, refers_to, fields), self.gzip_level))

    def dom(self, url: str, refers_to: str, html: str) -> None:
        """The rendered DOM of `url`, a ``conversion`` record of its response `refers_to`."""
        record = records.conversion(url, refers_to, html.encode("utf-8"), "text/html; charset=utf-8", records.DOM)
        self._append(records.gzipped(record, self.gzip_level))

    def screenshot(self, url: str, refers_to: str, png: bytes) -> None:
        """A PNG of rendered `url`, a ``conversion`` record of its response `refers_to`."""
        record = records.conversion(url, refers_to, png, "image/png", records.VIEW)
        self._append(records.gzipped(record, self.gzip_level))

    def check(self) -> None:
        """After a failed write, requests wait until the next try is due: their answers
        could not be kept, and the sites would be asked for nothing."""
        wait = self._unavailable_until - time.monotonic()
        if wait > 0:
            raise ArchiveUnavailable(self._unavailable, wait=wait)

    def close(self) -> None:
        """Close the file being written, if any, and give it its final name."""
        with self._lock:
            closed = self._close_current()
        if closed is not None and self.on_closed is not None:
            self.on_closed(closed)

    def _append(self, parts: list[bytes]) -> tuple[str, int]:
        closed = None
        with self._lock:
            try:
                out = self._current()
                offset = out.tell()
                self._write(out, offset, parts)
            except OSError as exc:
                raise self._failed(exc) from exc
            if self._unavailable_until:
                logger.warning("WARC files in %s can be written again", self.directory)
                self._unavailable_until = 0.0
            name = self._name
            if out.tell() >= self.max_bytes:
                closed = self._close_current()
        if closed is not None and self.on_closed is not None:
            self.on_closed(closed)
        return name, offset

    def _failed(self, exc: OSError) -> ArchiveUnavailable:
        """Stop requests for a while, saying why once rather than for every URL."""
        self._unavailable = f"cannot write WARC files in {self.directory}: {exc}"
        if not self._unavailable_until:
            logger.error("%s; requests wait %g s at a time until it can", self._unavailable, UNAVAILABLE_WAIT)
        self._unavailable_until = time.monotonic() + UNAVAILABLE_WAIT
        return ArchiveUnavailable(self._unavailable, wait=UNAVAILABLE_WAIT)

    def _write(self, out: io.FileIO, offset: int, parts: list[bytes]) -> None:
        """Append `parts` whole, or not at all: a write cut short (a full disk) is taken
        back, so the file stays a sequence of complete records. A file that cannot even
        be cut back is left as it is (readable up to there), and the next write begins
        another one."""
        try:
            for part in parts:
                view = memoryview(part)
                while view:
                    view = view[out.write(view) or 0 :]
        except OSError:
            try:
                out.truncate(offset)
                out.seek(offset)
            except OSError:
                self._file = None
                out.close()
            raise

    def _current(self) -> io.FileIO:
        """The file to append to; a new one after a rotation, or in a forked child (whose
        inherited file is the parent's to write and close)."""
        if self._file is not None and self._pid == os.getpid():
            return self._file
        self._file, self._pid = None, os.getpid()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._name = self._next_name()
        path = self.directory / (self._name + OPEN_SUFFIX)
        out = io.FileIO(path, "xb")
        fcntl.flock(out.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        info = records.info(self._name, {**self.info, "hostname": self.hostname})
        try:
            self._write(out, 0, records.gzipped(info, self.gzip_level))
        except OSError:
            out.close()
            path.unlink(missing_ok=True)
            raise
        self._file = out
        return out

    def _next_name(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        name = f"{self.prefix}-{stamp}-{self._serial:05d}-{self.hostname}-{self._pid}{EXTENSION}"
        self._serial += 1
        return name

    def _close_current(self) -> Path | None:
        """Flush the file to disk and rename it; a file that cannot be closed stays `.open`
        (its records are complete) and the next write begins another."""
        out, self._file = self._file, None
        if out is None or self._pid != os.getpid():
            return None
        final = self.directory / self._name
        try:
            os.fsync(out.fileno())
            out.close()
            (self.directory / (self._name + OPEN_SUFFIX)).rename(final)
        except OSError as exc:
            logger.error("could not close WARC file %s: %s", final, exc)
            return None
        logger.info("closed WARC file %s", final)
        return final

