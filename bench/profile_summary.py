"""Where a worker's CPU goes, by package, from a py-spy profile in raw (collapsed) format.

    py-spy record --subprocesses -r 100 -f raw -o prof.txt -- python bench/crawl.py
    python bench/profile_summary.py prof.txt

Each sample is counted once, for the package of its innermost frame (the code that was
running), so the shares add up to 100%. Only the Celery worker processes are counted: the
benchmark's own processes and the site server are not the crawler's cost. "in a task body"
is the share of samples with a stage's task function anywhere on the stack: the rest is
Celery and kombu moving messages between tasks.
"""

from __future__ import annotations

import argparse
import re
from collections import Counter
from collections.abc import Iterable

FRAME = re.compile(r"^(?P<function>.*) \((?P<path>[^()]*?)(?::\d+)?\)$")
TASK_BODY = re.compile(r"^(fetch|parse|store|dispatch) \(tasks/")
STDLIB_DIR = re.compile(r"/lib/python3\.\d+/")


def package(path: str) -> str:
    """The top-level package of a frame's file: `celery`, `redis`, `json`, or the project's own."""
    if path.startswith("<"):
        return "(interpreter)"
    path = STDLIB_DIR.split(path)[-1]
    path = path.split("site-packages/")[-1]
    head = path.lstrip("/").split("/", 1)[0]
    if head.endswith(".py"):
        head = head[:-3]
    return head


def summarize(lines: Iterable[str], process: str) -> tuple[Counter[str], int, int]:
    by_package: Counter[str] = Counter()
    in_task = total = 0
    for line in lines:
        stack, _, count_text = line.rstrip("\n").rpartition(" ")
        parts = stack.split(";")
        frames = [frame for frame in parts if not frame.startswith("process ")]
        if not frames or not any(process in part for part in parts if part.startswith("process ")):
            continue
        count = int(count_text)
        match = FRAME.match(frames[-1])
        by_package[package(match["path"]) if match else "(unknown)"] += count
        total += count
        if any(TASK_BODY.match(frame) for frame in frames):
            in_task += count
    return by_package, in_task, total


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("profile", help="py-spy raw output (-f raw)")
    parser.add_argument(
        "--process", default="celery -A tasks worker", help="count stacks of processes whose command line holds this"
    )
    parser.add_argument("--top", type=int, default=15)
    args = parser.parse_args()
    with open(args.profile) as lines:
        by_package, in_task, total = summarize(lines, args.process)
    if not total:
        raise SystemExit(f"no samples of a process matching {args.process!r} in {args.profile}")
    print(f"{total} samples of {args.process!r}; {100 * in_task / total:.0f}% in a task body")
    for name, count in by_package.most_common(args.top):
        print(f"{100 * count / total:5.1f}%  {name}")


if __name__ == "__main__":
    main()
