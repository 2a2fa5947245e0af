"""Adopting the WARC files of killed workers. A writer holds an flock on its `.open` file
while it writes it, so a `.open` file nobody holds was left by a worker that died: the
next writer on the host cuts it back to its last complete record and gives it its final
name, so that it is shipped like any closed file."""

from __future__ import annotations

import fcntl
import logging
import os
import time
import zlib
from pathlib import Path
from typing import Any

from pipeline.archive.records import GZIP_WBITS
from pipeline.archive.writer import EXTENSION, OPEN_SUFFIX

# Seconds a `.open` file must have gone unwritten before it is taken for an orphan: a
# writer locks its file just after creating it, and in between it must not be adopted.
ORPHAN_MIN_AGE = 60.0
READ_CHUNK = 1024 * 1024
logger = logging.getLogger(__name__)


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

