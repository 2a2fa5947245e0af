"""The render benchmark's check that a killed worker leaves nothing behind
(bench/render.py) must see a process the worker started that outlived it, in its tree
or out of it, and must not count one that went."""

from __future__ import annotations

import importlib.util
import os
import signal
import subprocess
import sys
import time
from pathlib import Path
from types import ModuleType

import pytest

BENCH = Path(__file__).resolve().parents[3] / "bench" / "render.py"


@pytest.fixture(scope="module")
def bench() -> ModuleType:
    spec = importlib.util.spec_from_file_location("bench_render", BENCH)
    assert spec is not None and spec.loader is not None
    module = importlib.util.module_from_spec(spec)
    sys.modules[spec.name] = module
    spec.loader.exec_module(module)
    return module


def _worker(bench: ModuleType, mark: str, script: str, processes: int) -> subprocess.Popen[bytes]:
    """A stand-in worker: a shell running `script`, with the run's mark in its environment,
    once `processes` processes have it (the shell's included)."""
    process = subprocess.Popen(["sh", "-c", script], env=dict(os.environ, **{bench.RUN_MARK: mark}),
                               start_new_session=True)
    deadline = time.monotonic() + 5
    while len(bench.marked(mark)) < processes and time.monotonic() < deadline:
        time.sleep(0.02)
    return process


def test_a_process_that_outlives_the_killed_worker_is_found_in_its_tree_or_out_of_it(bench):
    # One child stays in the worker's tree; one leaves it for a session of its own, as
    # Chromium's crash handler does, and is found by the mark in its environment.
    process = _worker(bench, "left-test", "(setsid sleep 31 &); sleep 30 & wait", processes=3)
    started = bench.processes_of(process.pid, "left-test")
    tree = {process.pid, *bench.descendants(process.pid)}
    try:
        process.kill()
        process.wait()
        left, waited = bench.wait_gone(started, grace=0.3)

        assert len(started) == 3 and len(set(started) - tree) == 1, (started, tree)
        assert sorted(name.split()[0] for name in left.values()) == ["sleep", "sleep"]
        assert waited >= 0.3
    finally:
        for pid in started:
            if bench._identity(pid) == started[pid]:
                os.kill(pid, signal.SIGKILL)


def test_processes_that_die_with_the_worker_are_not_counted_as_left(bench):
    process = _worker(bench, "gone-test", "sleep 30 & wait", processes=2)
    started = bench.processes_of(process.pid, "gone-test")

    os.killpg(process.pid, signal.SIGKILL)
    process.wait()
    left, _ = bench.wait_gone(started, grace=5)

    assert len(started) == 2 and left == {}
