"""The WARC upload's settings are checked when a command or worker starts, not at the
first closed file, where a typo would fail every upload."""

from __future__ import annotations

import pytest

from pipeline.archive.upload import check
from pipeline.errors import ConfigError
from pipeline.settings import Settings


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"CRAWLER_WARC_UPLOAD_URL": "http://bucket/prefix"}, "CRAWLER_WARC_UPLOAD_URL"),
        ({"CRAWLER_WARC_UPLOAD_URL": "s3://warcs", "CRAWLER_S3_ENDPOINT_URL": "minio:9000"}, "CRAWLER_S3_ENDPOINT_URL"),
    ],
)
def test_upload_settings_are_checked_at_start_up(variables, named):
    with pytest.raises(ConfigError, match=named):
        check(Settings.load(variables))


def test_no_upload_url_needs_no_endpoint():
    check(Settings.load({"CRAWLER_S3_ENDPOINT_URL": "minio:9000"}))
