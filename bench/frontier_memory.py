"""What a frontier costs in Redis: seeds N URLs (~30 characters, over 1,000 hosts) into a
fresh job in batches, as `seed()` does after canonicalizing them, and reports the
seeding rate, the bytes of the seen sets per URL, and Redis's whole memory growth per
queued URL (seen entry, host queues, per-host counters: everything the job holds).

    .venv/bin/python bench/frontier_memory.py --urls 1000000 [--redis redis://127.0.0.1:6379/13]

The database is flushed before and after: use one nothing else needs (13 by default,
the benchmarks' own).
"""

from __future__ import annotations

import argparse
import random
import sys
import time

import redis

from pipeline import keys
from pipeline.frontier import Found, Frontier
from pipeline.settings import Policy

BATCH = 1000
HOSTS = 1000


def urls(count: int, seed: int = 1) -> list[str]:
    """Distinct canonical URLs of about 30 characters, spread over HOSTS hosts."""
    rng = random.Random(seed)
    return [f"http://h{rng.randrange(HOSTS)}.example/p/{number}" for number in range(count)]


def seen_bytes(client: redis.Redis, frontier: Frontier) -> int:
    pattern = frontier.keys.key(keys.SEEN) + "*"
    return sum(int(client.memory_usage(key, samples=0) or 0) for key in client.scan_iter(match=pattern, count=5000))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--urls", type=int, default=1_000_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    args = parser.parse_args()
    client = redis.Redis.from_url(args.redis)
    client.flushdb()
    listed = urls(args.urls)
    frontier = Frontier(client, "memory")
    frontier.create(Policy(max_pages=0, max_pages_per_host=0, max_depth=50))
    before = int(client.info("memory")["used_memory"])
    started = time.perf_counter()
    for start in range(0, len(listed), BATCH):
        frontier.add(Found.seeds(listed[start:start + BATCH]))
    seconds = time.perf_counter() - started
    after = int(client.info("memory")["used_memory"])
    stats = frontier.stats()
    print("| URLs | seeding | seen sets, bytes per URL | Redis memory per queued URL |")
    print("| --- | --- | --- | --- |")
    print(f"| {stats.seen:,} | {stats.seen / seconds:,.0f} URLs/s | {seen_bytes(client, frontier) / stats.seen:.1f} "
          f"| {(after - before) / stats.queued:.1f} |")
    client.flushdb()
    return 0


if __name__ == "__main__":
    sys.exit(main())
