"""Does a crawl scale across machines? Crawls one site whose every response takes
--latency seconds (100 ms: neither the site nor the CPU is the limit) from 1 worker host
and then from --hosts, each host a network namespace with its own address and one
worker of the same pool and concurrency, the Redis, the store and the site on a bridge
between them. Rounds alternate (1, N, 1, N, ...); prints each round's pages/s by the
job's own clock (seeded to finished), the medians and their ratio. With --cluster the
frontier is on a Redis Cluster of three masters and three replicas on the bridge, and
the bridge's single Redis is only the broker; with --shards N as well, the job's
frontier is split into N shards (over the three masters) and the site is served by
--sites servers, a host each.

    sudo .venv/bin/python -m bench.scaling [--hosts 3] [--pages 2000] [--latency 0.1] \\
        [--concurrency 4] [--rounds 2] [--cluster [--shards 3 --sites 6]]

Run from the repository root (it borrows the tests' network namespaces and cluster). Needs
root (`ip netns`); uses only the private test bridge's addresses and removes the
namespaces afterwards.
"""

from __future__ import annotations

import argparse
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.frontier import Frontier, JobState
from tests.integration.hosts import MultiHost, tree_cluster
from tests.integration.netns import GATEWAY, available
from tests.integration.redis_cluster import RedisClusterNodes

JOB = "scaling"


def crawl(hosts: int, args: argparse.Namespace) -> tuple[int, float]:
    """Pages stored and seconds from seeding to finished, with `hosts` worker hosts (and
    the frontier on a cluster of its own on the bridge, with --cluster)."""
    with tempfile.TemporaryDirectory(prefix="scaling-") as workdir, \
            tree_cluster(Path(workdir), hosts, args.pages, delay=args.latency, sites=args.sites) as (cluster, site):
        nodes = RedisClusterNodes(Path(workdir) / "redis-cluster", host=GATEWAY) if args.cluster else None
        try:
            return _crawl(cluster, site.url("/"), nodes, args)
        finally:
            if nodes is not None:
                nodes.stop()


def _crawl(
    cluster: MultiHost, seed: str, nodes: RedisClusterNodes | None, args: argparse.Namespace
) -> tuple[int, float]:
    cluster.env.pop("CRAWLER_LEASE_TIMEOUT")  # the default, not the fault tests' short lease
    if nodes is not None:
        cluster.env.update(CRAWLER_REDIS_CLUSTER="true", CRAWLER_REDIS_URL=nodes.url,
                           CRAWLER_BROKER_URL=cluster.redis_url)
    hosts = len(cluster.network.names)
    for host in cluster.network.names:
        cluster.start_worker(host, concurrency=args.concurrency, pool=args.pool)
    cluster.start_beat()
    time.sleep(args.warmup)
    subprocess.run(
        [sys.executable, "-m", "tasks.cli", "seed", seed, "--job", JOB, "--allow-private",
         "--delay", "0", "--host-concurrency", str(4 * hosts * args.concurrency), "--max-depth", "50",
         "--frontier-shards", str(args.shards)],
        env=cluster.env, check=True, capture_output=True, timeout=60,
    )
    frontier = Frontier(nodes.client(), JOB) if nodes is not None else cluster.frontier(JOB)
    deadline = time.monotonic() + args.timeout
    while frontier.state() != JobState.FINISHED:
        if time.monotonic() > deadline:
            raise RuntimeError(f"the crawl with {hosts} host(s) did not finish within {args.timeout:g} s")
        time.sleep(0.2)
    stats = frontier.stats()
    if stats.started_at is None or stats.finished_at is None:
        raise RuntimeError("the job did not record when it started and finished")
    return len(cluster.urls(JOB)), stats.finished_at - stats.started_at


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--hosts", type=int, default=3)
    parser.add_argument("--pages", type=int, default=2000)
    parser.add_argument("--latency", type=float, default=0.1, help="seconds the site takes for each response")
    parser.add_argument("--concurrency", type=int, default=4, help="pool slots of each host's worker")
    parser.add_argument("--pool", default="threads")
    parser.add_argument("--rounds", type=int, default=2)
    parser.add_argument("--warmup", type=float, default=3.0, help="seconds the workers get to start before seeding")
    parser.add_argument("--timeout", type=float, default=600.0)
    parser.add_argument("--cluster", action="store_true", help="the frontier on a 3-master Redis Cluster")
    parser.add_argument("--shards", type=int, default=1, help="frontier shards of the job")
    parser.add_argument("--sites", type=int, default=1, help="servers (hosts) the site's pages are spread over")
    args = parser.parse_args()
    reason = available()
    if reason is not None:
        print(f"scaling: {reason}", file=sys.stderr)
        return 1
    rates: dict[int, list[float]] = {1: [], args.hosts: []}
    try:
        for _ in range(args.rounds):
            for hosts in rates:
                pages, seconds = crawl(hosts, args)
                rates[hosts].append(pages / seconds)
                print(f"{hosts} host(s): {pages} pages in {seconds:.1f} s, {pages / seconds:.1f} pages/s", flush=True)
    except (RuntimeError, subprocess.CalledProcessError) as exc:
        print(f"scaling: {exc}", file=sys.stderr)
        return 1
    one, many = statistics.median(rates[1]), statistics.median(rates[args.hosts])
    print(f"median: 1 host {one:.1f} pages/s [{min(rates[1]):.1f}..{max(rates[1]):.1f}], "
          f"{args.hosts} hosts {many:.1f} [{min(rates[args.hosts]):.1f}..{max(rates[args.hosts]):.1f}]; "
          f"ratio {many / one:.2f}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
