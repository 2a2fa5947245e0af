"""Revisit records: a 304 to a conditional request, or a payload identical to the one
archived before, is written as a WARC revisit that refers to the original response;
anything else is a full response. Written by a real WarcWriter, read back with warcio."""

from __future__ import annotations

import base64
import hashlib
import io
import subprocess
import sys
from dataclasses import replace

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipeline.fetch import REVISIT_IDENTICAL, REVISIT_NOT_MODIFIED, Exchange, Reference, WarcPointer
from tests.unit.archive.warcs import records, sample_exchange


def _digest(payload):
    return "sha1:" + base64.b32encode(hashlib.sha1(payload).digest()).decode()


NOT_MODIFIED_PROFILE = "http://netpreserve.org/warc/1.1/revisit/server-not-modified"
IDENTICAL_PROFILE = "http://netpreserve.org/warc/1.1/revisit/identical-payload-digest"
# The response of sample_exchange() as archived a month before.
ORIGINAL = Reference("http://example.com/", "2025-12-01T17:30:55.123Z",
                     "<urn:uuid:8b1f4a4e-4f1e-4e5c-9d55-0c3b3c1f2a10>", _digest(b"ok"))


def _not_modified(refers_to):
    return Exchange("http://example.com/", "2026-01-01T00:00:00Z", "GET / HTTP/1.1",
                    [("If-None-Match", '"v1"'), ("If-Modified-Since", "Mon, 01 Dec 2025 17:30:55 GMT")],
                    "HTTP/1.1", 304, "Not Modified", [("ETag", '"v1"'), ("Cache-Control", "max-age=60")], [],
                    refers_to=refers_to)


def _record_at(directory, capture):
    """The record a capture points at, read from its gzip member alone."""
    with open(directory / capture.file, "rb") as stream:
        stream.seek(capture.offset)
        member = stream.read(capture.length)
    record = next(iter(ArchiveIterator(io.BytesIO(member), no_record_parse=True)))
    return record.rec_headers, record.raw_stream.read()


def _assert_refers_to_original(headers, profile):
    assert headers.get_header("WARC-Profile") == profile
    assert headers.get_header("WARC-Refers-To-Target-URI") == ORIGINAL.target_uri
    assert headers.get_header("WARC-Refers-To-Date") == ORIGINAL.date
    assert headers.get_header("WARC-Refers-To") == ORIGINAL.record_id
    assert headers.get_header("WARC-Truncated") is None


def test_a_304_to_a_revisit_is_archived_as_a_server_not_modified_revisit(writer, tmp_path):
    capture = writer.exchange(_not_modified(ORIGINAL))
    writer.close()

    (_, (name, kind, headers, http, payload), (_, request_kind, request_headers, request_http, _)) = records(tmp_path)
    assert kind == "revisit" and request_kind == "request"
    _assert_refers_to_original(headers, NOT_MODIFIED_PROFILE)
    assert headers.get_header("WARC-Payload-Digest") is None
    assert http.get_statuscode() == "304" and http.get_header("ETag") == '"v1"' and payload == b""
    assert request_headers.get_header("WARC-Concurrent-To") == headers.get_header("WARC-Record-ID")
    assert request_http.get_header("If-None-Match") == '"v1"'
    assert capture == WarcPointer(name, capture.offset, capture.length, headers.get_header("WARC-Record-ID"),
                              None, REVISIT_NOT_MODIFIED)
    pointed, block = _record_at(tmp_path, capture)
    assert pointed.get_header("WARC-Record-ID") == capture.record_id
    assert block.startswith(b"HTTP/1.1 304 Not Modified\r\n") and block.endswith(b"max-age=60\r\n\r\n")


def test_an_unchanged_payload_is_archived_as_an_identical_payload_digest_revisit(writer, tmp_path):
    capture = writer.exchange(replace(sample_exchange(), refers_to=ORIGINAL))
    writer.close()

    (_, (_, kind, headers, http, payload), (_, _, request_headers, _, _)) = records(tmp_path)
    assert kind == "revisit"
    _assert_refers_to_original(headers, IDENTICAL_PROFILE)
    assert headers.get_header("WARC-Payload-Digest") == ORIGINAL.digest == capture.digest
    assert http.get_statuscode() == "200" and http.get_header("Content-Length") == "2" and payload == b""
    assert request_headers.get_header("WARC-Concurrent-To") == headers.get_header("WARC-Record-ID")
    assert capture.revisit == REVISIT_IDENTICAL and capture.record_id == headers.get_header("WARC-Record-ID")
    pointed, block = _record_at(tmp_path, capture)
    assert pointed.get_header("WARC-Type") == "revisit"
    assert block.startswith(b"HTTP/1.1 200 OK\r\n") and block.endswith(b"Content-Length: 2\r\n\r\n")


@pytest.mark.parametrize("change", [
    {"payload": [b"changed"]},
    {"truncated": "length"},
    {"refers_to": None},
    {"refers_to": replace(ORIGINAL, digest=None)},
    {"status": 404, "reason": "Not Found"},
    {"status": 304, "reason": "Not Modified", "payload": [], "refers_to": None},
], ids=["changed", "truncated", "no reference", "no digest", "not a 200", "304 to a first visit"])
def test_any_other_answer_is_archived_as_a_full_response(writer, tmp_path, change):
    exchange = replace(sample_exchange(), **{"refers_to": ORIGINAL, **change})
    capture = writer.exchange(exchange)
    writer.close()

    (_, (_, kind, headers, http, payload), _) = records(tmp_path)
    assert kind == "response" and http.get_statuscode() == str(exchange.status)
    assert payload == b"".join(exchange.payload)
    assert headers.get_header("WARC-Truncated") == exchange.truncated
    assert headers.get_header("WARC-Profile") is None and headers.get_header("WARC-Refers-To") is None
    assert capture.digest == headers.get_header("WARC-Payload-Digest") == _digest(payload)
    assert capture.revisit is None and capture.record_id == headers.get_header("WARC-Record-ID")


def test_a_reference_without_a_record_id_leaves_out_warc_refers_to(writer, tmp_path):
    unknown = replace(ORIGINAL, record_id=None)
    writer.exchange(_not_modified(unknown))
    writer.exchange(replace(sample_exchange(), refers_to=unknown))
    writer.close()

    revisits = [headers for _, kind, headers, *_ in records(tmp_path) if kind == "revisit"]
    assert [headers.get_header("WARC-Profile") for headers in revisits] == [NOT_MODIFIED_PROFILE, IDENTICAL_PROFILE]
    for headers in revisits:
        assert headers.get_header("WARC-Refers-To") is None
        assert headers.get_header("WARC-Refers-To-Target-URI") == ORIGINAL.target_uri
        assert headers.get_header("WARC-Refers-To-Date") == ORIGINAL.date


def test_warcio_check_accepts_revisit_records(writer, tmp_path):
    for exchange in (sample_exchange(), _not_modified(ORIGINAL), replace(sample_exchange(), refers_to=ORIGINAL)):
        writer.exchange(exchange)
    writer.close()

    (path,) = tmp_path.iterdir()
    checked = subprocess.run([sys.executable, "-m", "warcio.cli", "check", "-v", str(path)],
                             capture_output=True, text=True, check=False)
    assert checked.returncode == 0, checked.stdout + checked.stderr
    assert checked.stdout.count("digest present but not checked (revisit)") == 2
    # warcio checks no digest of a revisit record: the block digest is checked here.
    with open(path, "rb") as stream:
        blocks = [(record.rec_headers, record.raw_stream.read())
                  for record in ArchiveIterator(stream, no_record_parse=True) if record.rec_type == "revisit"]
    assert len(blocks) == 2
    for headers, block in blocks:
        assert headers.get_header("WARC-Block-Digest") == _digest(block)
        assert int(headers.get_header("Content-Length")) == len(block) and block.endswith(b"\r\n\r\n")
