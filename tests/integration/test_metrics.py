"""`crawler metrics` serves each job's numbers to Prometheus, read from Redis at every
scrape: checked by scraping it during and after a real crawl, and against every series
the provisioned Grafana dashboard queries."""

from __future__ import annotations

import json
import re
import subprocess
import sys
from pathlib import Path

import pytest

from tasks import seed
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import cli_env
from tests.integration.cluster import wait_until
from tests.integration.proxy import free_port
from tests.integration.scrape import scrape, serving
from tests.integration.site import Host, Response, page

pytestmark = pytest.mark.integration

DASHBOARD = Path(__file__).resolve().parents[2] / "deploy" / "grafana" / "dashboards" / "crawler.json"


def _dashboard_queries() -> list[str]:
    dashboard = json.loads(DASHBOARD.read_text())
    queries = [target["expr"] for panel in dashboard["panels"] for target in panel["targets"]]
    return queries + [variable["definition"] for variable in dashboard["templating"]["list"]]


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
        wait_until(lambda: serving(port), "the metrics endpoint to answer", timeout=30)
        seed([host.url("/")], job="metered", allow_private=True, delay=0)
        job = (("job", "metered"),)
        assert scrape(port)[("crawler_urls_seen_total", job)] == 1
        cluster.start_worker()
        cluster.start_beat()
        cluster.wait_finished("metered")
        metrics = scrape(port)
    finally:
        server.terminate()
        server.wait(10)
        host.stop()

    assert metrics[("crawler_pages_stored_total", job)] == 7
    assert metrics[("crawler_pages_failed_total", job)] == 1
    assert metrics[("crawler_urls_leased", job)] == 0
    assert metrics[("crawler_urls_blocked_total", job)] == 0, "no robots.txt here: nothing disallowed"
    assert (metrics[("crawler_pages_revisited_total", job)], metrics[("crawler_revisits_waiting", job)]) == (0, 0)
    assert metrics[("crawler_job_state", (("job", "metered"), ("state", "finished")))] == 1
    assert metrics[("crawler_job_state", (("job", "metered"), ("state", "running")))] == 0
    assert server.returncode is not None and b"Traceback" not in server.stderr.read()
    queried = set(re.findall(r"\bcrawler_[a-z_]+", " ".join(_dashboard_queries())))
    served = {name for name, _ in metrics}
    assert len(queried) >= 10 and queried <= served, f"the dashboard queries series nobody serves: {queried - served}"
