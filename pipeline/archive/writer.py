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
  was left by a killed worker, and the next writer on the host adopts it (cuts it back
  to its last complete record and gives it its final name, so that it can be shipped);
- records are built and compressed outside the file's lock, so the threads of a worker
  only queue for the append itself. They are compressed here rather than by warcio,
  whose level 9 took 0.86 ms for a 30 KB page where level 3 takes 0.34 ms for a file 6%
  larger (`CRAWLER_WARC_GZIP_LEVEL`).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import io
import logging
import os
import socket
import threading
import time
import zlib
from collections.abc import Callable, Mapping, Sequence
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline import __version__
from pipeline.errors import ArchiveUnavailable
from pipeline.fetch.exchange import REVISIT_IDENTICAL, REVISIT_NOT_MODIFIED, Capture, Exchange, Reference

OPEN_SUFFIX = ".open"
# Seconds a `.open` file must have gone unwritten before it is taken for an orphan: a
# writer locks its file just after creating it, and in between it must not be adopted.
ORPHAN_MIN_AGE = 60.0
READ_CHUNK = 1024 * 1024
# Seconds a URL waits when the WARC files cannot be written.
UNAVAILABLE_WAIT = 30.0
EXTENSION = ".warc.gz"
WARC_VERSION = "WARC/1.1"
FORMAT = "WARC File Format 1.1"
CONFORMS_TO = "https://iipc.github.io/warc-specifications/specifications/warc-format/warc-1.1/"
# http.client removes the chunked transfer coding before the payload reaches us; the
# header is kept under this name (as Common Crawl's files do), so a reader does not try to
# de-chunk a payload that no longer is chunked.
TRANSFER_ENCODING = "transfer-encoding"
RENAMED_TRANSFER_ENCODING = "X-Crawler-Transfer-Encoding"
SOFTWARE = f"celery-crawler/{__version__}"
# warcio's create_revisit_record knows only the second of these profiles, and wants a
# payload digest that a 304 does not have: revisit records are built here.
REVISIT_PROFILES = {
    REVISIT_NOT_MODIFIED: "http://netpreserve.org/warc/1.1/revisit/server-not-modified",
    REVISIT_IDENTICAL: "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest",
}
# zlib's window bits for a gzip header and trailer around the deflate stream.
GZIP_WBITS = 16 + zlib.MAX_WBITS
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

    def exchange(self, exchange: Exchange) -> Capture:
        """Append the response (or revisit) and request records of `exchange`; where the
        response went."""
        record, revisit = _answer(exchange)
        headers = record.rec_headers
        record_id = headers.get_header("WARC-Record-ID")
        first = self._gzipped(record)
        name, offset = self._append(first + self._gzipped(_request(exchange, record_id)))
        length = sum(len(part) for part in first)
        return Capture(name, offset, length, record_id, headers.get_header("WARC-Payload-Digest"), revisit)

    def metadata(self, url: str, refers_to: str, fields: list[tuple[str, str]]) -> None:
        """A ``metadata`` record about the response record `refers_to` (application/warc-fields)."""
        body = "".join(f"{name}: {value}\r\n" for name, value in fields).encode("utf-8")
        record = _builder.writer.create_warc_record(
            url,
            "metadata",
            payload=io.BytesIO(body),
            length=len(body),
            warc_content_type="application/warc-fields",
            warc_headers_dict={"WARC-Refers-To": refers_to, "WARC-Concurrent-To": refers_to},
        )
        self._append(self._gzipped(record))

    def check(self) -> None:
        """After a failed write, requests wait until the next try is due: their answers
        could not be kept, and the sites would be asked for nothing."""
        wait = self._unavailable_until - time.monotonic()
        if wait > 0:
            raise ArchiveUnavailable(self._unavailable, wait)

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
        return ArchiveUnavailable(self._unavailable, UNAVAILABLE_WAIT)

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
        info = _builder.writer.create_warcinfo_record(self._name, {**self.info, "hostname": self.hostname})
        try:
            self._write(out, 0, self._gzipped(info))
        except OSError:
            out.close()
            path.unlink(missing_ok=True)
            raise
        self._file = out
        return out

    def _gzipped(self, record: Any) -> list[bytes]:
        """One record as a gzip member of its own, as every WARC reader seeks to them,
        compressed as warcio writes it out: the payload is not copied whole again."""
        sink = _GzipMember(self.gzip_level)
        writer = _builder.writer
        writer.out = sink
        writer.write_record(record)
        return sink.finish()

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


def adopt_orphans(directory: Path, min_age: float = ORPHAN_MIN_AGE) -> list[Path]:
    """Give their final names to the `.open` files of writers that were killed: files no
    writer holds locked and nobody wrote to for `min_age` seconds, each cut back to its
    last complete record first. Returns the files adopted (to be shipped as any closed one)."""
    adopted = []
    for path in sorted(directory.glob(f"*{EXTENSION}{OPEN_SUFFIX}")):
        try:
            final = _adopt(path, min_age)
        except FileNotFoundError:
            continue  # adopted by another process meanwhile
        except OSError as exc:
            logger.warning("could not adopt the orphaned WARC file %s: %s", path, exc)
            continue
        if final is not None:
            adopted.append(final)
    return adopted


def _adopt(path: Path, min_age: float) -> Path | None:
    if time.time() - path.stat().st_mtime < min_age:
        return None
    with open(path, "r+b") as stream:
        try:
            fcntl.flock(stream.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
        except BlockingIOError:
            return None  # its writer is alive
        if os.stat(path).st_ino != os.fstat(stream.fileno()).st_ino:
            return None  # another process adopted it meanwhile
        length = _complete_length(stream)
        if length == 0:
            path.unlink()
            return None
        stream.truncate(length)
        os.fsync(stream.fileno())
        final = path.with_name(path.name.removesuffix(OPEN_SUFFIX))
        path.rename(final)
    logger.warning("adopted %s, left open by a killed worker: cut to its last complete record", final)
    return final


def _complete_length(stream: Any) -> int:
    """Bytes of `stream` up to the end of its last complete gzip member: a killed
    writer's last record may be cut anywhere."""
    end = base = 0
    decompressor = zlib.decompressobj(GZIP_WBITS)
    while chunk := stream.read(READ_CHUNK):
        data = chunk
        while data:
            try:
                decompressor.decompress(data)
            except zlib.error:
                return end
            if not decompressor.eof:
                base += len(data)
                break
            used = len(data) - len(decompressor.unused_data)
            base += used
            end = base
            data = decompressor.unused_data
            decompressor = zlib.decompressobj(GZIP_WBITS)
    return end


class _GzipMember:
    """Where warcio writes one record: compressed as it comes, into a gzip member."""

    def __init__(self, level: int) -> None:
        self._compressor = zlib.compressobj(level, zlib.DEFLATED, GZIP_WBITS)
        self._parts: list[bytes] = []

    def write(self, data: bytes) -> None:
        if compressed := self._compressor.compress(data):
            self._parts.append(compressed)

    def flush(self) -> None:
        """warcio flushes after each record; the member ends in `finish` instead."""

    def finish(self) -> list[bytes]:
        self._parts.append(self._compressor.flush())
        return self._parts


class _Chunks:
    """A payload in the pieces it was read in, as the seekable stream warcio reads twice
    (digests, then the write) without the pieces being joined into one copy."""

    def __init__(self, chunks: Sequence[bytes]) -> None:
        self._chunks = chunks
        self._index = 0
        self._offset = 0
        self._position = 0

    def read(self, size: int = -1) -> bytes:
        while self._index < len(self._chunks) and self._offset >= len(self._chunks[self._index]):
            self._index, self._offset = self._index + 1, 0
        if self._index >= len(self._chunks):
            return b""
        chunk = self._chunks[self._index]
        end = len(chunk) if size < 0 else min(len(chunk), self._offset + size)
        data = chunk[self._offset : end]
        self._offset = end
        self._position += len(data)
        return data

    def tell(self) -> int:
        return self._position

    def seek(self, position: int) -> int:
        self._index = self._offset = self._position = 0
        while self._position < position and self.read(position - self._position):
            pass
        return self._position


def warcinfo(robots: bool, operator: str, user_agent: str) -> dict[str, str]:
    """The fields of each file's warcinfo record, hostname aside."""
    info = {
        "software": f"{SOFTWARE} (warcio)",
        "format": FORMAT,
        "conformsTo": CONFORMS_TO,
        "robots": "obey" if robots else "ignore",
        "http-header-user-agent": user_agent,
    }
    if operator:
        info["operator"] = operator
    return info


class _Builder(threading.local):
    """warcio's record builder and writer, one per thread: making one looks the hostname
    up again, which cost more than a page's records."""

    def __init__(self) -> None:
        self.writer = WARCWriter(None, gzip=False, warc_version=WARC_VERSION)


_builder = _Builder()


def _answer(exchange: Exchange) -> tuple[Any, str | None]:
    """The record of the response, and which kind of revisit record it is, if one."""
    reference = exchange.refers_to
    if reference is not None and exchange.status == HTTPStatus.NOT_MODIFIED:
        return _revisit(exchange, reference, REVISIT_NOT_MODIFIED, None), REVISIT_NOT_MODIFIED
    digest = _payload_digest(exchange.payload)
    if reference is not None and _identical(exchange, reference, digest):
        return _revisit(exchange, reference, REVISIT_IDENTICAL, digest), REVISIT_IDENTICAL
    return _response(exchange, digest), None


def _identical(exchange: Exchange, reference: Reference, digest: str) -> bool:
    """A cut payload is never identical, whatever its digest: what the server had past
    the cut may differ."""
    return exchange.status == HTTPStatus.OK and not exchange.truncated and digest == reference.digest


def _payload_digest(payload: Sequence[bytes]) -> str:
    """WARC-Payload-Digest, worked out before warcio builds the record (which then takes
    it as given), since whether a revisit record is written depends on it: the payload is
    hashed once, straight from its pieces."""
    digest = hashlib.sha1()
    for chunk in payload:
        digest.update(chunk)
    return "sha1:" + base64.b32encode(digest.digest()).decode("ascii")


def _response(exchange: Exchange, digest: str) -> Any:
    warc_headers = _warc_headers(exchange)
    if exchange.truncated:
        warc_headers["WARC-Truncated"] = exchange.truncated
    warc_headers["WARC-Payload-Digest"] = digest
    return _builder.writer.create_warc_record(
        exchange.url,
        "response",
        payload=_Chunks(exchange.payload),
        length=sum(len(chunk) for chunk in exchange.payload),
        http_headers=_status(exchange),
        warc_headers_dict=warc_headers,
    )


def _revisit(exchange: Exchange, reference: Reference, kind: str, digest: str | None) -> Any:
    """A revisit record: the block is the status line and headers alone (WARC 1.1 says
    so of both profiles; no WARC-Truncated marks the payload left out). `digest` is the
    payload's, which a 304 has none of."""
    warc_headers = {
        **_warc_headers(exchange),
        "WARC-Profile": REVISIT_PROFILES[kind],
        "WARC-Refers-To-Target-URI": reference.target_uri,
        "WARC-Refers-To-Date": reference.date,
    }
    if digest is not None:
        warc_headers["WARC-Payload-Digest"] = digest
    if reference.record_id:
        warc_headers["WARC-Refers-To"] = reference.record_id
    return _builder.writer.create_warc_record(
        exchange.url, "revisit", http_headers=_status(exchange), warc_headers_dict=warc_headers
    )


def _status(exchange: Exchange) -> StatusAndHeaders:
    headers = [
        (RENAMED_TRANSFER_ENCODING if name.lower() == TRANSFER_ENCODING else name, value)
        for name, value in exchange.headers
    ]
    return StatusAndHeaders(f"{exchange.status} {exchange.reason}".rstrip(), headers, protocol=exchange.protocol)


def _warc_headers(exchange: Exchange) -> dict[str, str]:
    warc_headers = {"WARC-Date": exchange.date}
    if exchange.ip:
        warc_headers["WARC-IP-Address"] = exchange.ip
    return warc_headers


def _request(exchange: Exchange, response_id: str) -> Any:
    host = urlsplit(exchange.url).netloc.rpartition("@")[2]
    headers = [("Host", host), *((n, v) for n, v in exchange.request_headers if n.lower() != "host")]
    status = StatusAndHeaders(exchange.request_line, headers, is_http_request=True)
    warc_headers = {**_warc_headers(exchange), "WARC-Concurrent-To": response_id}
    return _builder.writer.create_warc_record(
        exchange.url, "request", payload=io.BytesIO(b""), length=0, http_headers=status, warc_headers_dict=warc_headers
    )
