"""Beat's schedule file: Celery's shelve-backed scheduler, which first makes the file's
folder, so `celery -A tasks beat -s /var/lib/crawler/beat-schedule` works on a fresh
machine, and a folder it may not make stops beat with one line, not a traceback."""

from __future__ import annotations

import os
import sys
from typing import Any

from celery.beat import PersistentScheduler


class FolderMakingScheduler(PersistentScheduler):  # type: ignore[misc]
    def _open_schedule(self) -> Any:
        folder = os.path.dirname(os.path.abspath(self.schedule_filename))
        try:
            os.makedirs(folder, exist_ok=True)
        except OSError as exc:
            print(f"crawler: error: cannot make the beat schedule's folder {folder}: {exc.strerror}", file=sys.stderr)
            raise SystemExit(1) from None
        return super()._open_schedule()
