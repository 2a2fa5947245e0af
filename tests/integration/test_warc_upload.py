"""Closed WARC files go to object storage over the real S3 API (moto's server on
127.0.0.1), and a local file is deleted only once the store verifiably holds it: an
endpoint that does not answer, or a bucket that does not exist, leaves it on disk.

Every test waits with ``close()``, never with sleeps: it returns once the queue is done
(uploaded, or given up after the tries allowed) or its timeout passed."""

from __future__ import annotations

import base64
import fcntl
import hashlib
import io
import logging
import os
import socket
import uuid
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import boto3
import pytest
from moto.server import ThreadedMotoServer
from warcio.archiveiterator import ArchiveIterator

from pipeline.archive import WarcUploader, upload_leftovers
from pipeline.archive import upload as warc_upload
from pipeline.errors import ConfigError
from tests.integration.cli import cli_env, crawl_ok, export_jsonl

pytestmark = pytest.mark.integration

LOGGER = "pipeline.archive.upload"


@pytest.fixture(scope="module")
def endpoint() -> Iterator[str]:
    server = ThreadedMotoServer(ip_address="127.0.0.1", port=0, verbose=False)
    server.start()
    host, port = server.get_host_and_port()
    yield f"http://{host}:{port}"
    server.stop()


@pytest.fixture(autouse=True)
def aws_env(monkeypatch: pytest.MonkeyPatch, tmp_path_factory: pytest.TempPathFactory) -> None:
    """Dummy credentials, and none of the host's own AWS configuration."""
    for name in ("AWS_PROFILE", "AWS_SESSION_TOKEN", "AWS_ENDPOINT_URL", "AWS_ENDPOINT_URL_S3", "AWS_REGION"):
        monkeypatch.delenv(name, raising=False)
    empty = tmp_path_factory.mktemp("aws")
    monkeypatch.setenv("AWS_CONFIG_FILE", str(empty / "config"))
    monkeypatch.setenv("AWS_SHARED_CREDENTIALS_FILE", str(empty / "credentials"))
    monkeypatch.setenv("AWS_ACCESS_KEY_ID", "testing")
    monkeypatch.setenv("AWS_SECRET_ACCESS_KEY", "testing")
    monkeypatch.setenv("AWS_DEFAULT_REGION", "us-east-1")
    monkeypatch.setenv("AWS_EC2_METADATA_DISABLED", "true")


@pytest.fixture
def s3(endpoint: str) -> Any:
    return boto3.session.Session().client("s3", endpoint_url=endpoint)


@pytest.fixture
def bucket(s3: Any) -> str:
    name = f"warcs-{uuid.uuid4().hex[:12]}"
    s3.create_bucket(Bucket=name)
    return name


@pytest.fixture
def logs(caplog: pytest.LogCaptureFixture) -> pytest.LogCaptureFixture:
    caplog.set_level(logging.INFO, logger=LOGGER)
    return caplog


def write(path: Path, size: int) -> str:
    """Random bytes in `path`; their SHA-1."""
    data = os.urandom(size)
    path.write_bytes(data)
    return hashlib.sha1(data).hexdigest()


def stored(s3: Any, bucket: str) -> dict[str, bytes]:
    listing = s3.list_objects_v2(Bucket=bucket).get("Contents", [])
    return {item["Key"]: s3.get_object(Bucket=bucket, Key=item["Key"])["Body"].read() for item in listing}


def closed_port() -> int:
    """A port on 127.0.0.1 nobody listens on: connecting is refused at once."""
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return int(sock.getsockname()[1])


def messages(logs: pytest.LogCaptureFixture, level: int) -> list[str]:
    return [record.getMessage() for record in logs.records if record.name == LOGGER and record.levelno == level]


def test_closed_files_are_uploaded_under_the_prefix_byte_for_byte_and_deleted_locally(tmp_path, s3, bucket, endpoint):
    files = {
        tmp_path / "crawl-20260101000000-00000-host-1.warc.gz": 300_000,
        tmp_path / "crawl-20260101000000-00001-host-1.warc.gz": 1,
    }
    digests = {path.name: write(path, size) for path, size in files.items()}
    uploader = WarcUploader(f"s3://{bucket}/crawls/2026/", endpoint)

    for path in files:
        uploader.submit(path)
    uploader.close(timeout=60)

    objects = stored(s3, bucket)
    assert {key: hashlib.sha1(data).hexdigest() for key, data in objects.items()} == {
        f"crawls/2026/{name}": digest for name, digest in digests.items()
    }
    assert not any(path.exists() for path in files)
    assert uploader.pending() == 0
    # The MD5 the server was given is that of the file's bytes (moto keeps the header,
    # which AWS would instead check and refuse on a mismatch).
    name = next(iter(digests))
    head = s3.head_object(Bucket=bucket, Key=f"crawls/2026/{name}")
    expected = base64.b64encode(hashlib.md5(objects[f"crawls/2026/{name}"]).digest()).decode()
    assert head["ResponseMetadata"]["HTTPHeaders"]["content-md5"] == expected


def test_without_a_prefix_the_key_is_the_file_name(tmp_path, s3, bucket, endpoint):
    path = tmp_path / "a.warc.gz"
    digest = write(path, 1000)
    uploader = WarcUploader(f"s3://{bucket}", endpoint)

    uploader.submit(path)
    uploader.close(timeout=60)

    assert {key: hashlib.sha1(data).hexdigest() for key, data in stored(s3, bucket).items()} == {"a.warc.gz": digest}
    assert not path.exists()


@pytest.mark.parametrize(
    ("url", "key"),
    [
        ("s3://b-1", "f.warc.gz"),
        ("s3://b-1/", "f.warc.gz"),
        ("s3://b-1/p", "p/f.warc.gz"),
        ("s3://b-1/p/q/", "p/q/f.warc.gz"),
    ],
)
def test_the_key_joins_prefix_and_name_with_one_slash(url, key):
    assert WarcUploader(url).key(Path("/x/f.warc.gz")) == key


def test_files_over_the_single_put_limit_go_up_in_parts(tmp_path, s3, bucket, endpoint, monkeypatch):
    monkeypatch.setattr(warc_upload, "PART_SIZE", 5 * 1024**2)  # S3's smallest part
    path = tmp_path / "big.warc.gz"
    digest = write(path, 11 * 1024**2)
    uploader = WarcUploader(f"s3://{bucket}/p", endpoint, single_put_limit=1024**2)

    uploader.submit(path)
    uploader.close(timeout=120)

    assert hashlib.sha1(stored(s3, bucket)["p/big.warc.gz"]).hexdigest() == digest
    assert s3.head_object(Bucket=bucket, Key="p/big.warc.gz")["ETag"].endswith('-3"')  # three parts
    assert not path.exists()


def test_an_endpoint_that_does_not_answer_leaves_the_file_on_disk_when_close_times_out(tmp_path, logs):
    path = tmp_path / "a.warc.gz"
    digest = write(path, 1000)
    uploader = WarcUploader("s3://warcs/p", f"http://127.0.0.1:{closed_port()}", retries=1000, backoff=0.01)

    uploader.submit(path)
    uploader.submit(path)  # already queued: once is enough
    assert uploader.pending() == 1
    uploader.close(timeout=0.5)

    assert uploader.pending() == 1
    assert path.exists() and hashlib.sha1(path.read_bytes()).hexdigest() == digest
    assert any("a.warc.gz" in message for message in messages(logs, logging.WARNING) if "stopped" in message)


def test_an_endpoint_that_does_not_answer_is_retried_then_given_up_with_the_file_kept(tmp_path, logs):
    path = tmp_path / "a.warc.gz"
    write(path, 1000)
    uploader = WarcUploader("s3://warcs/p", f"http://127.0.0.1:{closed_port()}", retries=3, backoff=0.01)

    uploader.submit(path)
    uploader.close(timeout=60)

    assert path.exists()
    assert uploader.pending() == 0
    failures = [message for message in messages(logs, logging.WARNING) if "failed" in message]
    assert len(failures) == 3 and all(str(path) in message for message in failures), failures
    assert [message for message in messages(logs, logging.ERROR) if "gave up" in message and str(path) in message]


def test_a_bucket_that_does_not_exist_keeps_the_file_and_says_why(tmp_path, endpoint, logs):
    path = tmp_path / "a.warc.gz"
    write(path, 1000)
    uploader = WarcUploader(f"s3://missing-{uuid.uuid4().hex[:12]}/p", endpoint, retries=2, backoff=0.01)

    uploader.submit(path)
    uploader.close(timeout=60)

    assert path.exists()
    warnings = messages(logs, logging.WARNING)
    assert any("NoSuchBucket" in message and str(path) in message for message in warnings), warnings


@pytest.mark.parametrize("url", ["http://x", "s3://", "s3:///prefix", "s3://user@bucket/p", "bucket/p", "", "s3://b?x=1"])
def test_a_url_that_is_not_s3_bucket_prefix_is_a_config_error(url):
    with pytest.raises(ConfigError, match="CRAWLER_WARC_UPLOAD_URL") as raised:
        WarcUploader(url)

    assert "\n" not in str(raised.value)


@pytest.mark.parametrize("endpoint_url", ["127.0.0.1:9000", "ftp://host", "http://"])
def test_an_endpoint_that_is_not_an_http_url_is_a_config_error(endpoint_url):
    with pytest.raises(ConfigError, match="CRAWLER_S3_ENDPOINT_URL"):
        WarcUploader("s3://bucket/p", endpoint_url)


def test_leftovers_are_the_closed_files_only(tmp_path, s3, bucket, endpoint):
    closed = {name: write(tmp_path / name, 2000) for name in ("a.warc.gz", "b.warc.gz")}
    still_open = tmp_path / "c.warc.gz.open"
    write(still_open, 2000)
    write(tmp_path / "notes.txt", 10)
    uploader = WarcUploader(f"s3://{bucket}/left", endpoint)

    submitted = upload_leftovers(tmp_path, uploader)
    uploader.close(timeout=60)

    assert submitted == 2
    assert {key: hashlib.sha1(data).hexdigest() for key, data in stored(s3, bucket).items()} == {
        f"left/{name}": digest for name, digest in closed.items()
    }
    assert sorted(path.name for path in tmp_path.iterdir()) == ["c.warc.gz.open", "notes.txt"]


# Python 3.12+ warns about forking a process with threads; that is what a prefork worker does.
@pytest.mark.filterwarnings("ignore:This process .* is multi-threaded:DeprecationWarning")
def test_a_file_another_process_is_uploading_is_left_to_it(tmp_path, s3, bucket, endpoint, logs):
    """Every worker process of a host submits the leftovers it finds: the one holding a
    file's lock uploads it, the others pass."""
    path = tmp_path / "crawl-20260101000000-00000-host-1.warc.gz"
    write(path, 1000)
    uploader = WarcUploader(f"s3://{bucket}", endpoint)
    with open(path, "rb") as other:
        fcntl.flock(other.fileno(), fcntl.LOCK_EX)
        uploader.submit(path)
        uploader.close(timeout=30)

    assert stored(s3, bucket) == {} and path.exists()
    assert f"{path} is being uploaded by another process" in messages(logs, logging.INFO)


def test_a_forked_child_starts_with_an_empty_queue_of_its_own(tmp_path):
    path = tmp_path / "a.warc.gz"
    write(path, 10)
    uploader = WarcUploader("s3://warcs/p", f"http://127.0.0.1:{closed_port()}", retries=1000, backoff=0.01)
    uploader.submit(path)

    pid = os.fork()
    if pid == 0:  # the child: the parent's queue is not its own
        os._exit(0 if uploader.pending() == 0 else 1)
    _, status = os.waitpid(pid, 0)
    uploader.close(timeout=0)

    assert os.waitstatus_to_exitcode(status) == 0
    assert path.exists()


def test_a_crawl_ships_its_closed_files_and_keeps_none_locally(
    tmp_path: Path, endpoint: str, s3: Any, bucket: str
) -> None:
    """The whole path: worker processes rotate small files while crawling, upload each
    closed one, and finish the uploads when they stop; the records point at the objects."""
    env = cli_env(
        CRAWLER_WARC_UPLOAD_URL=f"s3://{bucket}/crawls/demo", CRAWLER_S3_ENDPOINT_URL=endpoint,
        CRAWLER_WARC_MAX_BYTES="200000",
    )
    job, _ = crawl_ok(tmp_path, "--demo", "--warc", "warc", "--workers", "2", env=env)

    assert sorted(path.name for path in (tmp_path / "warc").iterdir()) == []
    listed = s3.list_objects_v2(Bucket=bucket, Prefix="crawls/demo/")["Contents"]
    names = {item["Key"].removeprefix("crawls/demo/") for item in listed}
    assert len(names) > 2 and all(name.endswith(".warc.gz") for name in names)
    records = export_jsonl(tmp_path, job, env)
    answered = [record for record in records if record["status"] is not None]
    assert len(answered) > 100 and {record["warc_file"] for record in answered} <= names
    record = next(record for record in records if record["error"] is None)
    body = s3.get_object(Bucket=bucket, Key=f"crawls/demo/{record['warc_file']}")["Body"].read()
    member = body[record["warc_offset"] : record["warc_offset"] + record["warc_length"]]
    response = next(iter(ArchiveIterator(io.BytesIO(member))))
    assert response.rec_type == "response"
    assert response.rec_headers.get_header("WARC-Target-URI") == record["final_url"]
