"""`crawler metrics` serves each job's numbers to Prometheus, read from Redis at every
scrape: checked by scraping it during and after a real crawl."""

from __future__ import annotations

import subprocess
import sys
import urllib.request

import pytest
from prometheus_client.parser import text_string_to_metric_families

from tasks import seed
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import cli_env
from tests.integration.cluster import wait_until
from tests.integration.proxy import free_port
from tests.integration.site import Host, Response, page

pytestmark = pytest.mark.integration


def _scrape(port: int) -> dict[tuple[str, tuple[tuple[str, str], ...]], float]:
    with urllib.request.urlopen(f"http://127.0.0.1:{port}/metrics", timeout=5) as response:
        text = response.read().decode()
    return {
        (sample.name, tuple(sorted(sample.labels.items()))): sample.value
        for family in text_string_to_metric_families(text)
        for sample in family.samples
    }


def _serving(port: int) -> bool:
    try:
        _scrape(port)
    except OSError:
        return False
    return True


def test_metrics_follow_a_crawl(cluster, tmp_path):
    host = Host("127.0.0.1")
    host.routes["/"] = page("root", [f"/p/{i}" for i in range(5)] + ["/gone"])
    for i in range(5):
        host.routes[f"/p/{i}"] = page(f"p{i}")
    host.routes["/gone"] = Response(404, "gone")
    host.start()
    port = free_port("127.0.0.1")
    server = subprocess.Popen(
        [sys.executable, "-m", "tasks.cli", "metrics", "--port", str(port)],
        cwd=tmp_path, env=cli_env(TEST_REDIS_URL), stdout=subprocess.DEVNULL, stderr=subprocess.PIPE,
    )
    try:
        wait_until(lambda: _serving(port), "the metrics endpoint to answer", timeout=30)
        seed([host.url("/")], job="metered", allow_private=True, delay=0)
        job = (("job", "metered"),)
        assert _scrape(port)[("crawler_urls_seen_total", job)] == 1
        cluster.start_worker()
        cluster.start_beat()
        cluster.wait_finished("metered")
        metrics = _scrape(port)
    finally:
        server.terminate()
        server.wait(10)
        host.stop()

    assert metrics[("crawler_pages_stored_total", job)] == 7
    assert metrics[("crawler_pages_failed_total", job)] == 1
    assert metrics[("crawler_urls_leased", job)] == 0
    assert metrics[("crawler_job_state", (("job", "metered"), ("state", "finished")))] == 1
    assert metrics[("crawler_job_state", (("job", "metered"), ("state", "running")))] == 0
    assert server.returncode is not None and b"Traceback" not in server.stderr.read()
