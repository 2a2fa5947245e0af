"""WARC output across real network hosts: two worker hosts, each its own network
namespace, crawl one site, each worker process writing its own WARC files into its
host's directory. Stopped warm, every file is closed; the files of the two hosts are
disjoint, both hosts did part of the work, and together they hold every page exactly
once, each where the store points."""

from __future__ import annotations

import os
import re
import socket
import subprocess
import sys
import time
from collections import Counter
from dataclasses import dataclass
from functools import partial
from io import BytesIO
from itertools import pairwise
from pathlib import Path

import pytest
from warcio.archiveiterator import ArchiveIterator

from pipeline.archive import EXTENSION, OPEN_SUFFIX
from pipeline.frontier import JobState
from pipeline.store import Record, open_store
from tests.integration.cluster import wait_until
from tests.integration.hosts import MultiHost, tree_cluster, tree_pages
from tests.integration.netns import GATEWAY, available
from tests.integration.site import Host

PAGES = 300
JOB = "warc"
# Small enough that every process rotates its file a few times mid-crawl.
MAX_BYTES = 30_000
NAME = re.compile(r"crawler-(?P<stamp>\d{17})-(?P<serial>\d{5})-(?P<hostname>.+)-(?P<pid>\d+)" + re.escape(EXTENSION))

pytestmark = pytest.mark.skipif(available() is not None, reason=str(available()))


@dataclass(frozen=True)
class Entry:
    """One record of a WARC file, where a reader finds it."""

    file: str
    offset: int
    length: int
    kind: str
    uri: str
    record_id: str
    ip: str | None
    refers_to: str | None


@pytest.fixture
def multihost(tmp_path):
    with tree_cluster(tmp_path, 2, PAGES, delay=0.002) as cluster:
        yield cluster


def _pages(site: Host) -> set[str]:
    return tree_pages(site, PAGES)


def _group(pgid: int) -> set[int]:
    """The live processes of process group `pgid` (a worker and its pool children)."""
    members = set()
    for entry in os.scandir("/proc"):
        if not entry.name.isdigit():
            continue
        try:
            stat = Path(entry.path, "stat").read_text()
        except OSError:
            continue
        # pid (comm) state ppid pgrp ...: comm may hold spaces, so split after its ')'.
        if int(stat.rpartition(")")[2].split()[2]) == pgid:
            members.add(int(entry.name))
    return members


def _runs_celery(pid: int) -> bool:
    """`ip netns exec` execs its command: the pid Popen knows becomes the Celery main process."""
    try:
        return Path(f"/proc/{pid}/cmdline").read_bytes().split(b"\0")[1:4] == [b"-m", b"celery", b"-A"]
    except OSError:
        return False


def _netns(pid: int) -> int | None:
    try:
        return os.stat(f"/proc/{pid}/ns/net").st_ino
    except OSError:
        return None


def _ping(hosts: MultiHost, names: list[str]) -> bool:
    """Every worker in `names` answers a remote-control ping (it consumes by now)."""
    destinations = ",".join(f"{name}@{socket.gethostname()}" for name in names)
    ping = subprocess.run(
        [sys.executable, "-m", "celery", "-A", "tasks", "inspect", "ping", "-d", destinations, "-t", "1"],
        env=hosts.env, capture_output=True, text=True, timeout=60,
    )
    return all(f"{name}@{socket.gethostname()}: OK" in ping.stdout for name in names)


def _index(directory: Path) -> list[Entry]:
    """Every record of every file in `directory`, digests checked, with its offset and
    the length of its gzip member."""
    entries = []
    for path in sorted(directory.iterdir()):
        with open(path, "rb") as stream:
            records = ArchiveIterator(stream, check_digests="raise")
            for record in records:
                headers = record.rec_headers
                kind, uri = record.rec_type, headers.get_header("WARC-Target-URI")
                record_id, ip = headers.get_header("WARC-Record-ID"), headers.get_header("WARC-IP-Address")
                refers_to = headers.get_header("WARC-Refers-To") or headers.get_header("WARC-Concurrent-To")
                record.raw_stream.read()
                entries.append(Entry(path.name, records.get_record_offset(), records.get_record_length(), kind, uri,
                                     record_id, ip, refers_to))
    return entries


def _read_at(path: Path, offset: int, length: int) -> list[tuple[str, str, str | None]]:
    """What a reader seeking to (offset, length) of `path` finds: kind, URI, IP of each record."""
    with open(path, "rb") as stream:
        stream.seek(offset)
        member = stream.read(length)
    assert len(member) == length, (path.name, offset, length, len(member))
    found = []
    for record in ArchiveIterator(BytesIO(member), check_digests="raise"):
        record.content_stream().read()
        found.append((record.rec_type, record.rec_headers.get_header("WARC-Target-URI"),
                      record.rec_headers.get_header("WARC-IP-Address")))
    return found


def _records(hosts: MultiHost) -> list[Record]:
    store = open_store(hosts.store_url)
    try:
        return list(store.records(JOB))
    finally:
        store.close()


def test_two_hosts_each_write_their_own_files_and_together_hold_every_page(multihost, tmp_path, record_property):
    hosts, site = multihost
    names = hosts.network.names
    dirs = {host: tmp_path / f"warc-{host}" for host in names}
    started = time.monotonic()
    workers = {
        host: hosts.start_worker(host, CRAWLER_WARC_DIR=str(dirs[host]), CRAWLER_WARC_MAX_BYTES=str(MAX_BYTES))
        for host in names
    }
    for host, worker in workers.items():
        wait_until(partial(_runs_celery, worker.pid), f"ip netns exec to become the worker of {host}, same pid",
                   timeout=30)
    # Which processes ran on which host: each worker's group (its pool children), seen
    # in that host's namespace, recorded while the crawl runs.
    namespaces = {host: os.stat(f"/run/netns/{host}").st_ino for host in names}
    seen: dict[str, set[int]] = {host: set() for host in names}

    def observe() -> None:
        for host, worker in workers.items():
            for pid in _group(worker.pid):
                if _netns(pid) == namespaces[host]:
                    seen[host].add(pid)

    def pools() -> bool:
        observe()
        return all(len(seen[host]) >= 3 for host in names)

    wait_until(pools, "each worker's main process and its two pool children", timeout=60, detail=lambda: str(seen))
    wait_until(partial(_ping, hosts, names), "both workers to answer", timeout=60)
    record_property("seconds_to_ready", round(time.monotonic() - started, 1))
    hosts.start_beat()
    hosts.seed(site.url("/"), JOB)
    frontier = hosts.frontier(JOB)

    def finished() -> bool:
        observe()
        return frontier.stats().state == JobState.FINISHED

    wait_until(finished, "the crawl to finish", timeout=180, detail=lambda: str(frontier.stats()))
    observe()
    stats = frontier.stats()
    record_property("seconds_to_finish", round(time.monotonic() - started, 1))
    for host in names:
        assert hosts.stop_worker(host) == 0, host
    record_property("seconds", round(time.monotonic() - started, 1))

    # (a) each host's directory holds closed files only, at least one.
    files = {host: sorted(path.name for path in dirs[host].iterdir()) for host in names}
    for host in names:
        assert files[host], f"{host} wrote no WARC file"
        assert [name for name in files[host] if name.endswith(OPEN_SUFFIX)] == [], f"{host} left a file open"
        assert all(name.endswith(EXTENSION) for name in files[host]), files[host]

    # (b) the hosts' files are disjoint, and each was written by a process of that host
    # (the namespaces share the hostname: the pid tells the writers apart); each process
    # numbered its files from 0 up, one after another.
    first, second = names
    assert set(files[first]).isdisjoint(files[second])
    parsed = {host: [NAME.fullmatch(name) for name in files[host]] for host in names}
    assert all(match for matches in parsed.values() for match in matches), files
    assert {match["hostname"] for matches in parsed.values() for match in matches} == {socket.gethostname()}
    pids = {host: {int(match["pid"]) for match in parsed[host]} for host in names}
    for host in names:
        for pid in pids[host]:
            serials = sorted(int(match["serial"]) for match in parsed[host] if int(match["pid"]) == pid)
            assert serials == list(range(len(serials))), (host, pid, serials)
    assert sum(len(matches) for matches in parsed.values()) > 2 * len(names), "files were rotated"
    for host in names:
        assert pids[host] <= seen[host], (host, pids[host], seen[host])
        assert workers[host].pid not in pids[host], "the pool children fetch, not the main process"
    assert pids[first].isdisjoint(pids[second])
    assert seen[first].isdisjoint(seen[second])

    index = {host: _index(dirs[host]) for host in names}
    for host in names:
        assert all(entry.file in files[host] for entry in index[host])
        heads = {entry.file for entry in index[host] if entry.offset == 0 and entry.kind == "warcinfo"}
        assert heads == set(files[host]), "every file begins with its warcinfo record"
    responses = {host: [entry for entry in index[host] if entry.kind == "response"] for host in names}
    everything = [entry for host in names for entry in index[host]]
    all_responses = [entry for entry in everything if entry.kind == "response"]

    # (c) the work was shared.
    pages = _pages(site)
    for host in names:
        assert any(entry.uri in pages for entry in responses[host]), f"{host} archived no page"
    record_property("responses", {host: len(responses[host]) for host in names})

    # (d) together the hosts hold every page once, and nothing but pages and robots.txt.
    counted = Counter(entry.uri for entry in all_responses)
    assert {uri: n for uri, n in counted.items() if uri in pages and n != 1} == {}, "each page archived once"
    assert set(counted) - pages <= {site.url("/robots.txt")}, set(counted) - pages
    assert pages <= set(counted), sorted(pages - set(counted))[:10]
    records = _records(hosts)
    assert stats.stored == len(records)
    assert {record.final_url for record in records} == pages

    # Each response has its request right behind it, in the same file, tied to it; each
    # page one metadata record, referring to it.
    by_id = {entry.record_id: entry for entry in all_responses}
    for entries in index.values():
        for entry, after in pairwise(entries):
            if entry.kind == "response":
                assert after.kind == "request" and after.refers_to == entry.record_id, (entry, after)
                assert after.file == entry.file and after.offset == entry.offset + entry.length
    requests = [entry for entry in everything if entry.kind == "request"]
    assert len(requests) == len(all_responses)
    metadata = [entry for entry in everything if entry.kind == "metadata"]
    assert Counter(entry.refers_to for entry in metadata) == Counter(
        entry.record_id for entry in all_responses if entry.uri in pages
    ), "one metadata record a page"
    assert all(by_id[entry.refers_to].uri == entry.uri for entry in metadata)

    # (e) each stored pointer is in exactly one host's directory, at a response record's
    # gzip member, of that URL; and (f) the page was fetched from the site's address.
    located = {(entry.file, entry.offset): entry for entry in all_responses}
    for record in records:
        warc = record.warc
        assert warc is not None and warc.file and warc.length, record
        holders = [host for host in names if (dirs[host] / warc.file).is_file()]
        assert len(holders) == 1, (record.url, warc.file, holders)
        entry = located[warc.file, warc.offset]
        assert (entry.uri, entry.length) == (record.final_url, warc.length), (record, entry)
        assert _read_at(dirs[holders[0]] / warc.file, warc.offset, warc.length) == [
            ("response", record.final_url, GATEWAY)
        ]
    assert {entry.ip for entry in all_responses if entry.uri in pages} == {GATEWAY}
    assert {entry.ip for entry in requests if entry.uri in pages} == {GATEWAY}
