"""Reading one response body within limits. The body is read as it came over the wire
(content coding kept, for the archive) and decoded here with urllib3's decoders, in
steps that never produce more than the limit, however well a gzip bomb compresses; the
wall-clock deadline and the connection's failures end the read with a reason to record
and a WARC-Truncated value to archive."""

from __future__ import annotations

import time
import zlib
from dataclasses import dataclass, field

import requests
from urllib3.exceptions import DecodeError, ReadTimeoutError
from urllib3.exceptions import HTTPError as Urllib3Error
from urllib3.response import ContentDecoder, DeflateDecoder, GzipDecoder, MultiDecoder

from pipeline.fetch.deadline import passed as deadline_passed
from pipeline.fetch.errors import FetchError, PermanentFetchError, TransientFetchError
from pipeline.fetch.exchange import TRUNCATED_DISCONNECT, TRUNCATED_LENGTH, TRUNCATED_TIME

CHUNK = 64 * 1024


@dataclass
class Body:
    """What was read of one response body: the bytes as received (kept for an archive),
    the decoded bytes within the limit, and why reading stopped early, if it did."""

    raw: list[bytes] = field(default_factory=list)
    decoded: list[bytes] = field(default_factory=list)
    truncated: str | None = None
    error: FetchError | None = None


def read_body(
    response: requests.Response,
    limit: int,
    decode: bool,
    keep_raw: bool,
    deadline: float | None = None,
    stop_at_limit: bool = False,
) -> Body:
    """Read the body, decoded when `decode`, the bytes as received too when `keep_raw`.
    Past `limit` decoded bytes, reading stops: silently with `stop_at_limit` (the first
    `limit` bytes are what is wanted), else as "too large"."""
    body, size = Body(), 0
    status = response.status_code
    try:
        decoder = _decoder(response.headers.get("Content-Encoding")) if decode else None
        while chunk := response.raw.read1(CHUNK, decode_content=False):
            if keep_raw:
                body.raw.append(chunk)
            data = decoder.decompress(chunk, max_length=limit - size + 1) if decoder else chunk
            if not _keep(body, data, limit - size, status, stop_at_limit):
                return body
            size += len(data)
            if deadline is not None and time.monotonic() > deadline:
                return _cut_by_deadline(body, status)
        if deadline is not None and deadline_passed():
            # The deadline shut the socket: a body that ends with its connection looks
            # complete then.
            return _cut_by_deadline(body, status)
        if decoder is not None:
            _keep(body, decoder.decompress(b"") + decoder.flush(), limit - size, status, stop_at_limit)
    except (DecodeError, zlib.error) as exc:
        body.error = PermanentFetchError("undecodable content encoding", status)
        body.error.__cause__ = exc
    except ReadTimeoutError:
        body.truncated = TRUNCATED_TIME if deadline_passed() else TRUNCATED_DISCONNECT
        body.error = TransientFetchError("timeout", status)
    except (Urllib3Error, OSError):
        body.truncated = TRUNCATED_TIME if deadline_passed() else TRUNCATED_DISCONNECT
        body.error = TransientFetchError("connection error", status)
    return body


def _keep(body: Body, data: bytes, room: int, status: int, stop_at_limit: bool) -> bool:
    """Add decoded `data` to the body if it fits in `room`; False when reading must stop."""
    if len(data) <= room:
        body.decoded.append(data)
        return True
    body.truncated = TRUNCATED_LENGTH
    if stop_at_limit:
        body.decoded.append(data[:room])
    body.error = PermanentFetchError("too large", status)
    return False


def _cut_by_deadline(body: Body, status: int) -> Body:
    body.truncated = TRUNCATED_TIME
    body.error = TransientFetchError("download deadline exceeded", status)
    return body


def _decoder(encoding: str | None) -> ContentDecoder | None:
    """urllib3's decoder of a Content-Encoding; None for identity, or for one we did not
    ask for (the body is then kept as it came, as urllib3 would keep it)."""
    value = (encoding or "").strip().lower()
    if "," in value:
        return MultiDecoder(value)
    if value in ("gzip", "x-gzip"):
        return GzipDecoder()
    if value == "deflate":
        return DeflateDecoder()
    return None
