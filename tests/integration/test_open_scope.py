"""Crawls that discover sites: `crawler crawl --scope any` seeded with one host of a
small site of six hosts (127.1.0.1-6, each home page linking to every other host's)
reaches every host, `--max-hosts` bounds how many, a denied domain is never asked for
anything, and the default scope keeps to the seeds' hosts as before. A link to a host
on a private address is refused by the address guard, its robots.txt included."""

from __future__ import annotations

from collections.abc import Iterator
from pathlib import Path
from urllib.parse import urlsplit

import pytest

from pipeline.crawl import Context, fate
from pipeline.frontier import Found, Frontier
from pipeline.settings import Settings
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import cli_env, crawl_ok, crawler, records, status_json, summary
from tests.integration.site import Host, page

pytestmark = pytest.mark.integration

HOSTS = 6


@pytest.fixture
def web(redis_client) -> Iterator[list[Host]]:
    """Host i serves `/`, linking to its `/a` and to the home page of every other host in
    order, and `/a`, linking home."""
    hosts = [Host(f"127.1.0.{i + 1}") for i in range(HOSTS)]
    for i, host in enumerate(hosts):
        others = [other.url("/") for other in hosts if other is not host]
        host.routes["/"] = page(f"home {i}", [host.url("/a"), *others])
        host.routes["/a"] = page(f"a {i}", [host.url("/")])
        host.start()
    yield hosts
    for host in hosts:
        host.stop()


def _crawl(workdir: Path, seed: Host, job: str, *flags: str) -> str:
    args = [seed.url("/"), "--job", job, "--allow-private", "--delay", "0", "--workers", "1", *flags]
    _, result = crawl_ok(workdir, *args, env=cli_env(TEST_REDIS_URL))
    return summary(result)


def _stored_hosts(workdir: Path, job: str) -> set[str]:
    return {urlsplit(record.url).hostname or "" for record in records(workdir, job) if record.status == 200}


def _asked(hosts: list[Host]) -> set[str]:
    """The hosts whose server was asked for anything (robots.txt included)."""
    return {host.server.server_address[0] for host in hosts if host.requests()}


def _names(hosts: list[Host]) -> set[str]:
    return {host.server.server_address[0] for host in hosts}


def test_scope_any_reaches_every_host_from_one_seed(workdir, web):
    _crawl(workdir, web[0], "open", "--scope", "any")

    assert _stored_hosts(workdir, "open") == _names(web)
    assert len(records(workdir, "open")) == 2 * HOSTS
    status = crawler(workdir, "status", "--job", "open", env=cli_env(TEST_REDIS_URL))
    assert f"hosts discovered: {HOSTS}" in status.stdout and "max_hosts" not in status.stdout


def test_max_hosts_schedules_urls_of_that_many_hosts_and_counts_the_rest_as_dropped(workdir, web):
    said = _crawl(workdir, web[0], "capped", "--scope", "any", "--max-hosts", "3")

    # The seed's home lists the other hosts in order: the first two join the seed's host.
    assert _stored_hosts(workdir, "capped") == _names(web[:3])
    assert _asked(web) == _names(web[:3]), "a host kept out is never asked for anything"
    stats = status_json(workdir, "capped", env=cli_env(TEST_REDIS_URL))
    assert (stats["hosts"], stats["hosts_refused"], stats["dropped"]["max_hosts"]) == (3, 3, 3)
    assert "max_hosts kept 3 URLs out" in said and "CRAWLER_MAX_HOSTS" in said
    status = crawler(workdir, "status", "--job", "capped", env=cli_env(TEST_REDIS_URL))
    assert "hosts discovered: 3 (3 more kept out by max_hosts)" in status.stdout


def test_a_denied_domain_is_never_requested(workdir, web):
    denied = web[3].server.server_address[0]

    _crawl(workdir, web[0], "denied", "--scope", "any", "--deny-domain", denied)

    assert web[3].requests() == {}, "not even its robots.txt"
    assert _stored_hosts(workdir, "denied") == _names(web) - {denied}


def test_the_default_scope_keeps_to_the_seeds_hosts(workdir, web):
    said = _crawl(workdir, web[0], "closed")

    assert _stored_hosts(workdir, "closed") == _names(web[:1])
    assert _asked(web) == _names(web[:1])
    assert "max_hosts" not in said


def test_a_link_to_a_host_on_a_private_address_is_refused_robots_txt_included(tmp_path, web):
    """The seed's host stands for a public site (it is never fetched here): the link it
    listed to a loopback host is in scope, but the guard refuses the host's address."""
    settings = Settings.load(redis_url=TEST_REDIS_URL, store_url=f"sqlite:///{tmp_path / 'crawl.db'}")
    ctx = Context(settings)
    frontier = Frontier(ctx.redis, "guarded")
    frontier.create(settings.policy.merged(scope="any", scope_hosts=("public.example",), delay=0.0))
    frontier.add(Found(0, (web[1].url("/"),)))
    [lease] = frontier.lease()

    outcome = fate.attempt_fetch(ctx, "guarded", lease)

    assert isinstance(outcome, fate.Fetched), outcome
    error = outcome.payload.result.error or ""
    assert error.startswith(f"address not allowed: {web[1].server.server_address[0]}"), error
    assert web[1].requests() == {}
