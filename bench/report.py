"""What `crawler report` costs on a large job: fills a SQLite store with N synthetic
records (over 200 hosts, statuses, content types, depths, fetch times and errors
spread as in a crawl, a tenth of the pages with an item), then times `crawler report`
in a process of its own and reports its peak memory and the file's size. The limits'
figures are asked of CRAWLER_REDIS_URL (default: the benchmarks' database 13), which
has no such job: the report leaves them out, as one made away from the frontier does.

    .venv/bin/python bench/report.py [--records 100000]
"""

from __future__ import annotations

import argparse
import os
import random
import resource
import subprocess
import sys
import tempfile
import time
from pathlib import Path

from pipeline.fetch import utc_text
from pipeline.store import Record, open_store
from pipeline.store.base import Item

JOB = "report-bench"
STATUSES = (200,) * 90 + (301, 404, 404, 500, 503, None, None, 403, 429, 200)
TYPES = ("text/html; charset=utf-8",) * 8 + ("application/pdf", "text/plain")


def fill(store_url: str, count: int) -> None:
    rng = random.Random(1)
    store = open_store(store_url)
    start = time.time() - count / 50
    try:
        for number in range(count):
            status = rng.choice(STATUSES)
            error = None if status in (200, 301) else (f"HTTP {status}" if status else "DNS lookup failed")
            url = f"http://h{rng.randrange(200)}.example/p/{number}"
            record = Record(
                job=JOB, url=url, final_url=url, status=status, depth=min(10, int(rng.expovariate(0.5))),
                content_type=rng.choice(TYPES) if status else None, title=f"page {number}", outlinks=[],
                fetched_at=utc_text(start + number / 50), error=error, length=rng.randrange(2_000, 60_000),
                elapsed=rng.lognormvariate(-2.5, 0.8) if status else 0.0,
            )
            store.put(record, [Item("text", {"text": "x"})] if number % 10 == 0 else None)
    finally:
        store.close()


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--records", type=int, default=100_000)
    args = parser.parse_args()
    with tempfile.TemporaryDirectory(prefix="report-bench-") as workdir:
        store_url = f"sqlite:///{Path(workdir) / 'crawl.db'}"
        fill(store_url, args.records)
        output = Path(workdir) / "report.html"
        env = {**os.environ, "CRAWLER_STORE_URL": store_url, "CRAWLER_REDIS_URL": os.environ.get("CRAWLER_REDIS_URL", "redis://127.0.0.1:6379/13")}
        started = time.perf_counter()
        subprocess.run([sys.executable, "-m", "tasks.cli", "report", "--job", JOB, "--output", str(output)],
                       env=env, check=True, capture_output=True)
        seconds = time.perf_counter() - started
        peak_mb = resource.getrusage(resource.RUSAGE_CHILDREN).ru_maxrss / 1024
        print(f"{args.records:,} records: report in {seconds:.2f} s, peak memory {peak_mb:.0f} MB, "
              f"{output.stat().st_size / 1024:.0f} KB")
    return 0


if __name__ == "__main__":
    sys.exit(main())
