"""Politeness per host across the cluster, measured in the servers' own logs (arrival
times, never response times): the adaptive delay of a slow host, a host policy file
that every worker applies without having the file, and `crawler status --host`."""

from __future__ import annotations

import itertools
from http.server import BaseHTTPRequestHandler

from tasks import seed
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import cli_env, crawler, describe, summary
from tests.integration.site import Host, Response, page

DISALLOW_ALL = Response(body="User-agent: *\nDisallow: /\n", content_type="text/plain")


def _tree(host: Host, pages: int) -> Host:
    host.routes["/"] = page("root", [f"/p/{i}" for i in range(1, pages + 1)])
    for i in range(1, pages + 1):
        host.routes[f"/p/{i}"] = page(f"p{i}")
    return host.start()


def _arrivals(host: Host) -> list[float]:
    return sorted(when for when, _ in host.log)


def _gaps(starts: list[float]) -> list[float]:
    return [b - a for a, b in itertools.pairwise(starts)]


def _status(cluster, *args: str):
    env = cli_env(TEST_REDIS_URL, CRAWLER_STORE_URL=cluster.store_url)
    result = crawler(cluster.tmp_path, "status", *args, env=env)
    assert result.returncode == 0, describe(result, cluster.tmp_path)
    return result


def test_a_slow_host_is_paced_by_factor_times_its_response_time(cluster, record_property):
    slow = _tree(Host("127.0.0.2", delay=0.3), 5)
    try:
        cluster.start_worker("w1", concurrency=2)
        cluster.start_worker("w2", concurrency=2)
        cluster.start_beat()
        seed([slow.url("/")], job="adaptive", allow_private=True, delay=0, delay_factor=2.0)
        cluster.wait_finished("adaptive", timeout=60)
    finally:
        slow.stop()

    starts = _arrivals(slow)
    assert len(starts) == 7, "robots.txt and 6 pages"
    # robots.txt takes the first page's turn; from the first page's response on, each
    # next request arrives at least 2 x 0.3 s after the one before.
    gaps = _gaps(starts[1:])
    record_property("min_gap", round(min(gaps), 3))
    assert min(gaps) >= 0.57, gaps

    shown = _status(cluster, "--job", "adaptive", "--host", slow.base)
    assert "delay 0.6" in shown.stdout and "from adaptive (2 x last response 0.3" in shown.stdout, shown.stdout


def test_a_host_policy_file_is_applied_by_every_worker(cluster, tmp_path, record_property):
    paced = _tree(Host("127.0.0.2"), 6)
    free = Host("127.0.0.3")
    free.routes["/robots.txt"] = DISALLOW_ALL
    agents: list[str] = []
    _tree(free, 3)
    free.routes["/p/1"] = _recording(agents, page("p1"))
    rules = tmp_path / "hosts.txt"
    rules.write_text(
        "# the test's two hosts\n127.0.0.2 delay=0.5\n127.0.0.3 robots=off user_agent=\"SpecialBot/2.0 (test)\"\n",
        encoding="utf-8",
    )
    env = cli_env(TEST_REDIS_URL, CRAWLER_STORE_URL=cluster.store_url)
    try:
        seeded = crawler(tmp_path, "seed", paced.url("/"), free.url("/"), "--job", "hostfile", "--allow-private",
                         "--delay", "0", "--host-concurrency", "4", "--host-policy", str(rules), env=env)
        assert seeded.returncode == 0, describe(seeded, tmp_path)
        rules.unlink()  # the workers apply the rules stored with the job, not the file
        cluster.start_worker("w1", concurrency=2)
        cluster.start_worker("w2", concurrency=2)
        cluster.start_beat()
        cluster.wait_finished("hostfile", timeout=60)
    finally:
        paced.stop()
        free.stop()

    gaps = _gaps(_arrivals(paced))
    record_property("min_gap_paced", round(min(gaps), 3))
    assert len(gaps) == 7, "robots.txt and 7 pages"
    assert min(gaps) >= 0.45, gaps
    assert free.requests()["/robots.txt"] == 0, "robots off: robots.txt is never asked for"
    assert sum(free.requests().values()) == 4, "every page fetched though robots.txt disallows all"
    assert agents == ["SpecialBot/2.0 (test)"]
    fetched = {record.url: record for record in cluster.records("hostfile")}
    assert all(record.error is None for record in fetched.values()), fetched

    shown = _status(cluster, "--job", "hostfile", "--host", paced.base)
    assert "delay 0.50 s, from host policy file (rule 127.0.0.2)" in summary(shown), shown.stdout
    other = _status(cluster, "--job", "hostfile", "--host", free.base)
    assert "delay 0.00 s, from the job's policy" in summary(other) and "robots.txt ignored" in summary(other)


def test_a_bad_host_policy_file_is_one_line_naming_the_file_and_line(redis_client, tmp_path):
    rules = tmp_path / "hosts.txt"
    rules.write_text("example.org delay=1\nexample.net delay=fast\n", encoding="utf-8")

    result = crawler(tmp_path, "seed", "http://example.org/", "--job", "badfile", "--host-policy", str(rules),
                     env=cli_env(TEST_REDIS_URL))

    assert result.returncode != 0
    assert f"{rules}:2: delay: expected a number of seconds, got 'fast'" in result.stderr
    assert len(result.stderr.strip().splitlines()) == 1, result.stderr


def _recording(agents: list[str], response: Response):
    """A route that notes each request's User-Agent, then answers `response`."""
    def answer(handler: BaseHTTPRequestHandler) -> None:
        agents.append(handler.headers.get("User-Agent", ""))
        body = response.body.encode() if isinstance(response.body, str) else response.body
        handler.send_response(response.status)
        handler.send_header("Content-Type", response.content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    return answer
