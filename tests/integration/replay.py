"""pywb, for the tests that replay what the crawler archived: its `wb-manager` and
`wayback` run from a virtual environment of their own (pywb pins an old redis client,
so it cannot share the project's): CRAWLER_TEST_PYWB names its bin directory, else
<repo>/.venv-replay/bin, which `.ci/run` creates. A test fails, not skips, without it."""

from __future__ import annotations

import contextlib
import http.client
import os
import subprocess
import time
from collections.abc import Iterator
from pathlib import Path

import pytest

from tests.integration.cli import REPO
from tests.integration.proxy import free_port

PYWB_START_WITHIN = 60  # seconds for `wayback` to answer its first request


def pywb_bin() -> Path:
    configured = os.environ.get("CRAWLER_TEST_PYWB")
    directory = Path(configured) if configured else REPO / ".venv-replay" / "bin"
    if not ((directory / "wb-manager").exists() and (directory / "wayback").exists()):
        where = "CRAWLER_TEST_PYWB" if configured else "CRAWLER_TEST_PYWB is not set: the default"
        pytest.fail(
            f"pywb is needed for the replay test: no wb-manager and wayback in {directory} ({where})."
            " Run `bash .ci/run`, or create its venv: "
            "python3 -m venv .venv-replay && .venv-replay/bin/pip install 'pywb>=2.8,<3'"
        )
    return directory


def collection(directory: Path, bin_dir: Path, files: list[str]) -> None:
    """A pywb collection `coll` in `directory` holding the WARC `files`, indexed."""
    for command in (["init", "coll"], ["add", "coll", *files]):
        done = subprocess.run([str(bin_dir / "wb-manager"), *command], cwd=directory, capture_output=True,
                              text=True, timeout=120, check=False)
        assert done.returncode == 0, f"wb-manager {' '.join(command)}:\n{done.stdout}\n{done.stderr}"


def get(port: int, path: str, encoding: str = "identity", timeout: float = 10) -> tuple[int, dict[str, str], bytes]:
    """One GET, the body as it came (no content decoding, no redirect followed)."""
    connection = http.client.HTTPConnection("127.0.0.1", port, timeout=timeout)
    try:
        connection.request("GET", path, headers={"Accept-Encoding": encoding})
        response = connection.getresponse()
        headers = {k.lower(): v for k, v in response.getheaders()}
        try:
            return response.status, headers, response.read()
        except (TimeoutError, http.client.IncompleteRead) as exc:
            raise AssertionError(
                f"GET {path}: {response.status} {headers}, then the body did not come to its end ({exc!r})"
            ) from exc
    finally:
        connection.close()


@contextlib.contextmanager
def wayback(directory: Path, bin_dir: Path) -> Iterator[int]:
    """pywb serving the collections of `directory` on a free loopback port, for the block."""
    port = free_port("127.0.0.1")
    log = open(directory / "wayback.log", "wb")  # noqa: SIM115 - closed below
    process = subprocess.Popen(
        [str(bin_dir / "wayback"), "-p", str(port), "-b", "127.0.0.1"],
        cwd=directory, stdout=log, stderr=subprocess.STDOUT, start_new_session=True,
    )
    try:
        deadline = time.monotonic() + PYWB_START_WITHIN
        while True:
            assert process.poll() is None, f"wayback exited {process.returncode}:\n{tail(directory / 'wayback.log')}"
            try:
                get(port, "/", timeout=2)
                break
            except OSError:
                assert time.monotonic() < deadline, (
                    f"wayback did not answer within {PYWB_START_WITHIN}s:\n{tail(directory / 'wayback.log')}"
                )
                time.sleep(0.1)
        yield port
    finally:
        process.terminate()
        try:
            process.wait(timeout=10)
        except subprocess.TimeoutExpired:
            process.kill()
            process.wait()
        log.close()


def tail(path: Path) -> str:
    return path.read_text(errors="replace")[-3000:] if path.exists() else ""
