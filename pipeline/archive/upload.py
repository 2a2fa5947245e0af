"""Ship closed WARC files to S3-compatible object storage, so the archive of a cluster
ends up in one bucket instead of being scattered over the disks of its worker hosts
(where it would fill them, and go when a host does).

A file is deleted locally only once the store has it verifiably: ``put_object`` carries
the MD5 of the bytes (the server refuses the body if they differ) and a ``head_object``
afterwards must report the local size. Until then the file stays where it is, so a
failed or interrupted upload loses nothing: it is retried with backoff, and whatever is
still on disk when a worker stops is found again by ``upload_leftovers`` on the next run.

Uploads run in one daemon thread per process, so a crawl thread closing a file never
waits for the network; boto3 is imported and its client created in that thread, in the
process that uploads (a forked worker never reuses its parent's connections).
"""

from __future__ import annotations

import base64
import fcntl
import hashlib
import heapq
import itertools
import logging
import os
import re
import threading
import time
import weakref
from pathlib import Path
from typing import Any, NamedTuple
from urllib.parse import urlsplit

from botocore.exceptions import BotoCoreError, ClientError

from pipeline.errors import ConfigError
from pipeline.settings import Settings

# Tries per file before it is left on disk for good (for this run); the waits between
# them double from the backoff given to WarcUploader up to MAX_BACKOFF.
MAX_TRIES = 8
FIRST_BACKOFF = 1.0
MAX_BACKOFF = 60.0
# S3 refuses a single PUT over 5 GiB: larger files go up in parts of PART_SIZE.
SINGLE_PUT_LIMIT = 5 * 1024**3
PART_SIZE = 64 * 1024**2
PART_CONCURRENCY = 4
# Closed files, as pipeline.archive.writer names them; a file still being written ends in ".open".
CLOSED_PATTERN = "*.warc.gz"
CONNECT_TIMEOUT = 10.0
READ_TIMEOUT = 120.0
_BUCKET = re.compile(r"[A-Za-z0-9][A-Za-z0-9._-]*")
logger = logging.getLogger(__name__)


class _Failed(Exception):
    """An upload that did not verifiably land, for a reason worth logging in one line."""


class _Upload(NamedTuple):
    due: float
    seq: int
    path: Path
    tries: int


class WarcUploader:
    """The uploads of one process: `submit` queues, one background thread ships."""

    def __init__(
        self,
        url: str,
        endpoint_url: str = "",
        *,
        retries: int = MAX_TRIES,
        backoff: float = FIRST_BACKOFF,
        single_put_limit: int = SINGLE_PUT_LIMIT,
    ) -> None:
        self.bucket, self.prefix = parse_upload_url(url)
        self.endpoint_url = check_endpoint(endpoint_url)
        self.retries = max(1, retries)
        self.backoff = backoff
        self.single_put_limit = single_put_limit
        self._forget()
        _UPLOADERS.add(self)

    def _forget(self) -> None:
        """Start with nothing: also what a forked child does, since the parent's thread,
        lock state and connections did not come along and its queue is the parent's job."""
        self._cond = threading.Condition()
        self._waiting: list[_Upload] = []
        self._current: Path | None = None
        self._thread: threading.Thread | None = None
        self._closed = False
        self._stopping = False
        self._client: Any = None
        self._seq = itertools.count()

    def key(self, path: Path) -> str:
        return f"{self.prefix}/{path.name}" if self.prefix else path.name

    def submit(self, path: Path) -> None:
        """Queue `path` (a closed WARC file) for upload; returns at once."""
        with self._cond:
            if self._closed:
                logger.warning("WARC upload already stopped: %s stays on disk", path)
                return
            if path == self._current or any(upload.path == path for upload in self._waiting):
                return
            heapq.heappush(self._waiting, _Upload(time.monotonic(), next(self._seq), path, 0))
            if self._thread is None:
                self._thread = threading.Thread(target=self._run, name="warc-upload", daemon=True)
                self._thread.start()
            self._cond.notify_all()

    def pending(self) -> int:
        with self._cond:
            return len(self._waiting) + (self._current is not None)

    def close(self, timeout: float = 60.0) -> None:
        """Give the queued uploads up to `timeout` seconds, then stop the thread. What is
        not uploaded by then stays on disk for `upload_leftovers` to find next time."""
        deadline = time.monotonic() + timeout
        with self._cond:
            self._closed = True
            self._cond.wait_for(lambda: not self._waiting and self._current is None, timeout)
            self._stopping = True
            self._cond.notify_all()
            left = sorted(upload.path.name for upload in self._waiting)
            current = self._current
            thread = self._thread
        if current is not None:
            logger.warning("WARC upload stopped while sending %s; it stays on disk unless that completes", current)
        if left:
            logger.warning("WARC upload stopped; %d file(s) not uploaded, kept on disk: %s", len(left), " ".join(left))
        if thread is not None:
            thread.join(max(0.0, deadline - time.monotonic()))

    def _run(self) -> None:
        while True:
            with self._cond:
                upload = self._next()
                if upload is None:
                    return
                self._current = upload.path
            done = self._attempt(upload)
            with self._cond:
                self._current = None
                if not done:
                    self._again(upload)
                self._cond.notify_all()

    def _next(self) -> _Upload | None:
        """The next upload that is due, waiting for it (called holding the lock); None once stopped."""
        while not self._stopping:
            wait = None
            if self._waiting:
                wait = self._waiting[0].due - time.monotonic()
                if wait <= 0:
                    return heapq.heappop(self._waiting)
            self._cond.wait(wait)
        return None

    def _again(self, upload: _Upload) -> None:
        tries = upload.tries + 1
        if tries >= self.retries:
            logger.error("gave up uploading %s after %d tries; it stays on disk", upload.path, tries)
            return
        delay = min(self.backoff * 2 ** (tries - 1), MAX_BACKOFF)
        heapq.heappush(self._waiting, _Upload(time.monotonic() + delay, next(self._seq), upload.path, tries))

    def _attempt(self, upload: _Upload) -> bool:
        """One try at `upload`; True when it needs no other (uploaded, or the file is gone)."""
        target = f"s3://{self.bucket}/{self.key(upload.path)}"
        attempt = f"try {upload.tries + 1} of {self.retries}"
        try:
            self._upload(upload.path)
        except FileNotFoundError:
            logger.warning("%s vanished before its upload (another process uploaded it?)", upload.path)
            return True
        except (_Failed, ClientError, BotoCoreError, OSError) as exc:
            logger.warning("upload of %s to %s failed (%s): %s", upload.path, target, attempt, exc)
            return False
        except Exception:
            # Not a failure this module knows of: the traceback says what, and the thread lives on.
            logger.exception("upload of %s to %s failed (%s)", upload.path, target, attempt)
            return False
        logger.info("uploaded %s to %s", upload.path.name, target)
        return True

    def _upload(self, path: Path) -> None:
        if self._client is None:
            self._client = _connect(self.endpoint_url)
        key = self.key(path)
        with path.open("rb") as body:
            if not _claim(body, path):
                return
            size = os.fstat(body.fileno()).st_size
            if size > self.single_put_limit:
                _upload_parts(self._client, path, self.bucket, key)
            else:
                md5 = hashlib.file_digest(body, lambda: hashlib.md5(usedforsecurity=False)).digest()
                body.seek(0)
                self._client.put_object(
                    Bucket=self.bucket,
                    Key=key,
                    Body=body,
                    ContentLength=size,
                    ContentMD5=base64.b64encode(md5).decode("ascii"),
                )
            stored = self._client.head_object(Bucket=self.bucket, Key=key)["ContentLength"]
            if stored != size:
                raise _Failed(f"the store holds {stored} bytes, the file has {size}")
            # Still holding the lock: no other process starts on it before it is gone.
            path.unlink(missing_ok=True)


def _claim(body: Any, path: Path) -> bool:
    """The file is this process's to upload: every worker process of a host submits the
    leftovers it finds, and the first to lock a file uploads it while the others skip it."""
    try:
        fcntl.flock(body.fileno(), fcntl.LOCK_EX | fcntl.LOCK_NB)
    except BlockingIOError:
        logger.info("%s is being uploaded by another process", path)
        return False
    try:
        same = os.stat(path).st_ino == os.fstat(body.fileno()).st_ino
    except FileNotFoundError:
        same = False
    if not same:
        logger.info("%s was uploaded by another process", path)
    return same


def upload_leftovers(directory: Path, uploader: WarcUploader) -> int:
    """Submit the closed WARC files already in `directory`: those a previous run could not
    upload (the store was down, the worker stopped first). Files still being written
    (``.open``) are not touched. Returns how many were submitted."""
    paths = sorted(path for path in directory.glob(CLOSED_PATTERN) if path.is_file())
    for path in paths:
        uploader.submit(path)
    return len(paths)


def parse_upload_url(url: str) -> tuple[str, str]:
    """``s3://bucket/some/prefix`` as (bucket, prefix without slashes at either end)."""
    parts = urlsplit(url)
    if parts.scheme != "s3" or not _BUCKET.fullmatch(parts.netloc) or parts.query or parts.fragment:
        raise ConfigError(f"CRAWLER_WARC_UPLOAD_URL must be s3://bucket or s3://bucket/prefix, not {url!r}")
    return parts.netloc, parts.path.strip("/")


def check_endpoint(endpoint_url: str) -> str:
    parts = urlsplit(endpoint_url)
    if endpoint_url and (parts.scheme not in ("http", "https") or not parts.netloc):
        raise ConfigError(f"CRAWLER_S3_ENDPOINT_URL must be an http:// or https:// URL, not {endpoint_url!r}")
    return endpoint_url


def check(settings: Settings) -> None:
    """The upload's settings, when the command or worker starts: at a worker's first
    closed WARC file, a typo would fail every upload instead."""
    if settings.warc_upload_url:
        parse_upload_url(settings.warc_upload_url)
        check_endpoint(settings.s3_endpoint_url)


def _connect(endpoint_url: str) -> Any:
    import boto3
    from botocore.config import Config

    config = Config(
        connect_timeout=CONNECT_TIMEOUT,
        read_timeout=READ_TIMEOUT,
        # This module retries a whole file with its own backoff, and logs each failure;
        # botocore retrying underneath would only multiply the waits.
        retries={"total_max_attempts": 1},
        # The MD5 sent with each PUT is the integrity check. Recent boto3 would add CRC
        # checksums by default, which some S3-compatible stores reject.
        request_checksum_calculation="when_required",
        response_checksum_validation="when_required",
    )
    # A session of its own: boto3's default session is not safe to share between threads.
    return boto3.session.Session().client("s3", endpoint_url=endpoint_url or None, config=config)


def _upload_parts(client: Any, path: Path, bucket: str, key: str) -> None:
    """A file too large for one PUT, in parts; verified by its size afterwards only."""
    from boto3.exceptions import S3UploadFailedError
    from boto3.s3.transfer import TransferConfig

    config = TransferConfig(
        multipart_threshold=PART_SIZE, multipart_chunksize=PART_SIZE, max_concurrency=PART_CONCURRENCY
    )
    try:
        client.upload_file(str(path), bucket, key, Config=config)
    except S3UploadFailedError as exc:
        raise _Failed(str(exc)) from exc


_UPLOADERS: weakref.WeakSet[WarcUploader] = weakref.WeakSet()


def _after_fork_in_child() -> None:
    for uploader in list(_UPLOADERS):
        uploader._forget()


os.register_at_fork(after_in_child=_after_fork_in_child)
