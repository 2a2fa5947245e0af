"""WARC 1.1 files of every HTTP exchange a worker process makes (warcio writes the
records). Each process writes its own files, so no two writers ever share one:

- a file is named ``{prefix}-{UTC timestamp}-{serial}-{hostname}-{pid}.warc.gz`` and is
  written as ``….warc.gz.open``, renamed without ``.open`` when it is closed (it reached
  its size, or the worker shut down);
- it starts with a ``warcinfo`` record, then each exchange as a ``response`` record and
  its ``request`` record, each record a gzip member of its own, appended in one write and
  handed to the OS at once: a worker killed mid-write leaves every complete record
  readable, and a pointer in the store never points at bytes still in a buffer;
- records are built and compressed outside the file's lock, so the threads of a worker
  only queue for the append itself. They are compressed here rather than by warcio,
  whose level 9 took 0.86 ms for a 30 KB page where level 3 takes 0.34 ms for a file 6%
  larger (`CRAWLER_WARC_GZIP_LEVEL`).
"""

from __future__ import annotations

import io
import logging
import os
import socket
import threading
import zlib
from collections.abc import Callable, Mapping
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline import __version__
from pipeline.errors import ArchiveUnavailable
from pipeline.exchange import Capture, Exchange

OPEN_SUFFIX = ".open"
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

    def exchange(self, exchange: Exchange) -> Capture:
        """Append the response and request records of `exchange`; where the response went."""
        response = _response(exchange)
        request = _request(exchange, response.rec_headers.get_header("WARC-Record-ID"))
        first = self._gzipped(response)
        name, offset = self._append(first + self._gzipped(request))
        return Capture(name, offset, len(first), response.rec_headers.get_header("WARC-Record-ID"))

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

    def close(self) -> None:
        """Close the file being written, if any, and give it its final name."""
        with self._lock:
            closed = self._close_current()
        if closed is not None and self.on_closed is not None:
            self.on_closed(closed)

    def _append(self, data: bytes) -> tuple[str, int]:
        closed = None
        with self._lock:
            try:
                out = self._current()
                offset = out.tell()
                self._write(out, offset, data)
            except OSError as exc:
                logger.error("cannot write WARC files in %s: %s", self.directory, exc)
                raise ArchiveUnavailable(f"cannot write WARC files: {exc}", UNAVAILABLE_WAIT) from exc
            name = self._name
            if out.tell() >= self.max_bytes:
                closed = self._close_current()
        if closed is not None and self.on_closed is not None:
            self.on_closed(closed)
        return name, offset

    @staticmethod
    def _write(out: io.FileIO, offset: int, data: bytes) -> None:
        """Append `data` whole, or not at all: a write cut short (a full disk) is taken
        back, so the file stays a sequence of complete records."""
        view = memoryview(data)
        try:
            while view:
                view = view[out.write(view) or 0 :]
        except OSError:
            out.truncate(offset)
            out.seek(offset)
            raise

    def _current(self) -> io.FileIO:
        """The file to append to; a new one after a rotation, or in a forked child (whose
        inherited file is the parent's to write and close)."""
        if self._file is not None and self._pid == os.getpid():
            return self._file
        self._file, self._pid = None, os.getpid()
        self.directory.mkdir(parents=True, exist_ok=True)
        self._name = self._next_name()
        out = io.FileIO(self.directory / (self._name + OPEN_SUFFIX), "xb")
        info = _builder.writer.create_warcinfo_record(self._name, {**self.info, "hostname": self.hostname})
        out.write(self._gzipped(info))
        self._file = out
        return out

    def _gzipped(self, record: Any) -> bytes:
        """One record as a gzip member of its own, as every WARC reader seeks to them."""
        buffer = io.BytesIO()
        writer = _builder.writer
        writer.out = buffer
        writer.write_record(record)
        compressor = zlib.compressobj(self.gzip_level, zlib.DEFLATED, GZIP_WBITS)
        with buffer.getbuffer() as view:
            return compressor.compress(view) + compressor.flush()

    def _next_name(self) -> str:
        stamp = datetime.now(UTC).strftime("%Y%m%d%H%M%S%f")[:17]
        name = f"{self.prefix}-{stamp}-{self._serial:05d}-{self.hostname}-{self._pid}{EXTENSION}"
        self._serial += 1
        return name

    def _close_current(self) -> Path | None:
        if self._file is None or self._pid != os.getpid():
            self._file = None
            return None
        self._file.close()
        self._file = None
        final = self.directory / self._name
        (self.directory / (self._name + OPEN_SUFFIX)).rename(final)
        logger.info("closed WARC file %s", final)
        return final


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


def _response(exchange: Exchange) -> Any:
    headers = [
        (RENAMED_TRANSFER_ENCODING if name.lower() == TRANSFER_ENCODING else name, value)
        for name, value in exchange.headers
    ]
    status = StatusAndHeaders(f"{exchange.status} {exchange.reason}".rstrip(), headers, protocol=exchange.protocol)
    warc_headers = {"WARC-Date": exchange.date}
    if exchange.ip:
        warc_headers["WARC-IP-Address"] = exchange.ip
    if exchange.truncated:
        warc_headers["WARC-Truncated"] = exchange.truncated
    return _builder.writer.create_warc_record(
        exchange.url,
        "response",
        payload=io.BytesIO(exchange.payload),
        length=len(exchange.payload),
        http_headers=status,
        warc_headers_dict=warc_headers,
    )


def _request(exchange: Exchange, response_id: str) -> Any:
    host = urlsplit(exchange.url).netloc.rpartition("@")[2]
    headers = [("Host", host), *((n, v) for n, v in exchange.request_headers if n.lower() != "host")]
    status = StatusAndHeaders(exchange.request_line, headers, is_http_request=True)
    warc_headers = {"WARC-Date": exchange.date, "WARC-Concurrent-To": response_id}
    if exchange.ip:
        warc_headers["WARC-IP-Address"] = exchange.ip
    return _builder.writer.create_warc_record(
        exchange.url, "request", payload=io.BytesIO(b""), length=0, http_headers=status, warc_headers_dict=warc_headers
    )
