"""A WarcWriter of the test's own, writing into its temporary directory."""

from __future__ import annotations

import pytest

from pipeline.archive import WarcWriter, warcinfo


@pytest.fixture
def writer(tmp_path):
    writer = WarcWriter(str(tmp_path), "test", 10**9, warcinfo(True, "ops@example.org", "test-agent"))
    yield writer
    writer.close()
