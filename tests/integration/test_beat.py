"""`celery -A tasks beat -s PATH` as the docs write it, on a machine where PATH's folder
does not exist yet: beat makes it; a folder it cannot make is one line, not a traceback."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

from tests.conftest import TEST_REDIS_URL


def _beat(tmp_path: Path, schedule: Path) -> subprocess.Popen[str]:
    env = {**os.environ, "CRAWLER_REDIS_URL": TEST_REDIS_URL}
    return subprocess.Popen(
        [sys.executable, "-m", "celery", "-A", "tasks", "beat", "-s", str(schedule)],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, text=True, start_new_session=True,
    )


def test_beat_makes_the_folder_of_its_schedule(tmp_path: Path, redis_client) -> None:
    schedule = tmp_path / "var" / "lib" / "crawler" / "beat-schedule"
    beat = _beat(tmp_path, schedule)
    try:
        deadline = time.monotonic() + 30
        while not list(schedule.parent.glob("beat-schedule*")) and beat.poll() is None:
            assert time.monotonic() < deadline, "no schedule file within 30 s"
            time.sleep(0.2)
        assert beat.poll() is None, beat.communicate()[0]
    finally:
        os.killpg(beat.pid, signal.SIGTERM)
        beat.wait(15)


def test_a_schedule_folder_beat_cannot_make_is_a_one_line_error(tmp_path: Path, redis_client) -> None:
    (tmp_path / "a-file").write_text("")
    beat = _beat(tmp_path, tmp_path / "a-file" / "sub" / "beat-schedule")
    output, _ = beat.communicate(timeout=30)

    assert beat.returncode == 1
    assert "Traceback" not in output
    assert "cannot make the beat schedule's folder" in output
