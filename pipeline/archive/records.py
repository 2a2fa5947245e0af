"""The WARC 1.1 records of an exchange, built with warcio and compressed here, each as a
gzip member of its own: the response (or, for a revisit that brought nothing new, a
``revisit`` record as Heritrix writes them), its request, a page's metadata, a rendered
page's conversions and a file's warcinfo. Building is kept apart from the file it goes in, so the threads of a worker
build and compress outside the file's lock."""

from __future__ import annotations

import base64
import hashlib
import io
import threading
import zlib
from collections.abc import Mapping, Sequence
from http import HTTPStatus
from typing import Any
from urllib.parse import urlsplit

from warcio.statusandheaders import StatusAndHeaders
from warcio.warcwriter import WARCWriter

from pipeline import __version__
from pipeline.fetch import REVISIT_IDENTICAL, REVISIT_NOT_MODIFIED, Exchange, Reference

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


def gzipped(record: Any, level: int) -> list[bytes]:
    """One record as a gzip member of its own, as every WARC reader seeks to them,
    compressed as warcio writes it out: the payload is not copied whole again."""
    sink = _GzipMember(level)
    writer = _builder.writer
    writer.out = sink
    writer.write_record(record)
    return sink.finish()


def metadata(url: str, refers_to: str, fields: list[tuple[str, str]]) -> Any:
    """A ``metadata`` record about the response record `refers_to` (application/warc-fields)."""
    body = "".join(f"{name}: {value}\r\n" for name, value in fields).encode("utf-8")
    return _builder.writer.create_warc_record(
        url,
        "metadata",
        payload=io.BytesIO(body),
        length=len(body),
        warc_content_type="application/warc-fields",
        warc_headers_dict={"WARC-Refers-To": refers_to, "WARC-Concurrent-To": refers_to},
    )


# The target URIs of a rendered page's conversion records: its URL behind `urn:dom:` (the
# DOM) or `urn:view:` (the screenshot, as Browsertrix names its viewport screenshots).
# Replay tools index every record under its target URI and serve the latest: a conversion
# under the page's own URL would be replayed in its response's place, the DOM with its
# script-made links already in it and the scripts then adding them again.
DOM, VIEW = "urn:dom:", "urn:view:"


def conversion(url: str, refers_to: str, body: bytes, content_type: str, prefix: str) -> Any:
    """A ``conversion`` record of the response record `refers_to` of `url`, under
    `prefix` + `url`: what the page became (its DOM after the browser ran its scripts, or
    a screenshot)."""
    return _builder.writer.create_warc_record(
        prefix + url,
        "conversion",
        payload=io.BytesIO(body),
        length=len(body),
        warc_content_type=content_type,
        warc_headers_dict={"WARC-Refers-To": refers_to, "WARC-Refers-To-Target-URI": url},
    )


def info(filename: str, fields: Mapping[str, str]) -> Any:
    """The ``warcinfo`` record a file starts with."""
    return _builder.writer.create_warcinfo_record(filename, dict(fields))


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


def answer(exchange: Exchange) -> tuple[Any, str | None]:
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


def request(exchange: Exchange, response_id: str) -> Any:
    host = urlsplit(exchange.url).netloc.rpartition("@")[2]
    headers = [("Host", host), *((n, v) for n, v in exchange.request_headers if n.lower() != "host")]
    status = StatusAndHeaders(exchange.request_line, headers, is_http_request=True)
    warc_headers = {**_warc_headers(exchange), "WARC-Concurrent-To": response_id}
    return _builder.writer.create_warc_record(
        exchange.url, "request", payload=io.BytesIO(b""), length=0, http_headers=status, warc_headers_dict=warc_headers
    )
