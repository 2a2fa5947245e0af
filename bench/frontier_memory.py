"""What a frontier costs in Redis: seeds N URLs (~30 characters, over 1,000 hosts) into a
fresh job with `seed()`, in batches of --batch, and reports the seeding rate, the bytes
of the seen sets (or Bloom filter) per URL, and Redis's whole memory growth per queued
URL (seen entry, host queues, per-host counters, the first window's task messages:
everything the job holds). With `--dedup bloom` the filter is sized for N URLs; `--probes P` then asks
whether P other URLs were seen (without adding them): each yes is a false positive.

    .venv/bin/python bench/frontier_memory.py --urls 1000000 [--batch 10000] [--redis redis://127.0.0.1:6379/13]
    .venv/bin/python bench/frontier_memory.py --urls 1000000 --dedup bloom --probes 1000000
    .venv/bin/python bench/frontier_memory.py --urls 1000000 --shards 3

The database is flushed before and after: use one nothing else needs (13 by default,
the benchmarks' own).
"""

from __future__ import annotations

import argparse
import os
import random
import sys
import time

import redis

from pipeline import keys
from pipeline.frontier import Frontier

BATCH = 10_000
HOSTS = 1000
JOB = "memory"


def urls(count: int, seed: int = 1, prefix: str = "p") -> list[str]:
    """Distinct canonical URLs of about 30 characters, spread over HOSTS hosts."""
    rng = random.Random(seed)
    return [f"http://h{rng.randrange(HOSTS)}.example/{prefix}/{number}" for number in range(count)]


def seen_bytes(client: redis.Redis, frontier: Frontier) -> int:
    keys_ = []
    for shard in frontier.keyring.all():
        keys_ += [shard.key(keys.BLOOM), *client.scan_iter(match=shard.key(keys.SEEN) + "*", count=5000)]
    return sum(int(client.memory_usage(key, samples=0) or 0) for key in keys_)


def add(listed: list[str], batch: int, dedup: str, shards: int) -> int:
    """Seed as a user does, from Python: the whole of seed(), canonicalization included."""
    from tasks import seed

    policy = {"max_pages": 0, "max_pages_per_host": 0, "max_depth": 50, "dedup": dedup,
              "bloom_capacity": max(1, len(listed)), "frontier_shards": shards}
    return sum(seed(listed[start:start + batch], job=JOB, **policy) for start in range(0, len(listed), batch))


def taken_for_seen(frontier: Frontier, listed: list[str]) -> int:
    return sum(sum(frontier.seen(listed[start:start + BATCH])) for start in range(0, len(listed), BATCH))


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--urls", type=int, default=1_000_000)
    parser.add_argument("--redis", default="redis://127.0.0.1:6379/13")
    parser.add_argument("--batch", type=int, default=BATCH, help="URLs per seed() call")
    parser.add_argument("--dedup", choices=("exact", "bloom"), default="exact")
    parser.add_argument("--probes", type=int, default=0, help="URLs added after the others, to count false positives")
    parser.add_argument("--shards", type=int, default=1, help="frontier shards of the job")
    args = parser.parse_args()
    os.environ["CRAWLER_REDIS_URL"] = args.redis
    os.environ.pop("CRAWLER_BROKER_URL", None)
    client = redis.Redis.from_url(args.redis)
    client.flushdb()
    listed = urls(args.urls)
    frontier = Frontier(client, JOB)
    before = int(client.info("memory")["used_memory"])
    started = time.perf_counter()
    added = add(listed, args.batch, args.dedup, args.shards)
    seconds = time.perf_counter() - started
    after = int(client.info("memory")["used_memory"])
    stats = frontier.stats()
    print(f"| URLs | seeding | {args.dedup} dedup, bytes per URL | Redis memory per queued URL | false positives |")
    print("| --- | --- | --- | --- | --- |")
    positives = f"{args.urls - added} while seeding, {taken_for_seen(frontier, urls(args.probes, 2, 'q'))} of " \
        f"{args.probes:,} other URLs"
    print(f"| {args.urls:,} | {args.urls / seconds:,.0f} URLs/s | {seen_bytes(client, frontier) / added:.1f} "
          f"| {(after - before) / stats.queued:.1f} | {positives} |")
    client.flushdb()
    return 0


if __name__ == "__main__":
    sys.exit(main())
