"""WARC output: the records of each exchange (records.py), the files they go in
(writer.py), the files killed workers left (orphans.py), and their upload (upload.py)."""

from pipeline.archive.orphans import adopt_orphans
from pipeline.archive.records import warcinfo
from pipeline.archive.upload import WarcUploader, check_endpoint, parse_upload_url, upload_leftovers
from pipeline.archive.writer import EXTENSION, OPEN_SUFFIX, WarcWriter

__all__ = [
    "EXTENSION",
    "OPEN_SUFFIX",
    "WarcUploader",
    "WarcWriter",
    "adopt_orphans",
    "check_endpoint",
    "parse_upload_url",
    "upload_leftovers",
    "warcinfo",
]
