"""Users' extractors that go wrong, end to end with real workers on a real local site:
every page keeps its record and the failure is named, never lost.

- extractors that raise, time out, or return what is not a dict of JSON values: each
  page keeps its record, with each failure named in `extract_error`;
- a name that cannot be imported, refused at seed time (`crawl` and `seed`);
- a worker that cannot import a job's module: every page recorded with the import error.
"""

from __future__ import annotations

import csv
import json
from collections import Counter
from collections.abc import Iterator
from pathlib import Path

import pytest

from pipeline.parse import parse_html
from pipeline.store import open_store
from tasks import seed
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import assert_nothing_left, by_url, cli_env, crawl_ok, crawler, describe, export_jsonl
from tests.integration.cluster import Cluster
from tests.integration.shop import SHOP_MODULE, csv_cell, item_key, product, product_page, tree_links, write_module
from tests.integration.site import Host, page

pytestmark = pytest.mark.integration


# --- extractors that fail --------------------------------------------------------------------

FAULTY = "crawler_it_faulty"
FAULTY_MODULE = '''
import time
from urllib.parse import urljoin


def boom(page):
    raise RuntimeError("boom")


def good(page):
    """The page's title, and where its first link leads (a card's link, say), if anywhere."""
    first = page.soup.select_one("a[href]")
    link = urljoin(page.final_url, first["href"]) if first is not None else None
    return {"title": page.soup.title.get_text(), "url": link, "depth": page.depth, "status": page.status}


def slow(page):
    time.sleep(2)
    return {"late": True}


def scalar(page):
    return 42


def notjson(page):
    yield {"tags": {"a", "b"}}
'''
FAULTY_PAGES = 12


@pytest.fixture
def plain_site() -> Iterator[Host]:
    host = Host("127.0.0.1")
    host.routes["/"] = page("root", ["/p/1", "/missing"])
    for number in range(1, FAULTY_PAGES + 1):
        host.routes[f"/p/{number}"] = page(f"page {number}", tree_links(number, FAULTY_PAGES))
    host.start()
    yield host
    host.stop()


def test_failing_extractors_leave_every_record_and_name_each_failure(
    workdir: Path, plain_site: Host, redis_client
) -> None:
    write_module(workdir, FAULTY, FAULTY_MODULE)
    names = [f"{FAULTY}:{name}" for name in ("boom", "good", "slow", "scalar", "notjson")]
    # The extractors from CRAWLER_EXTRACT this time, the timeout from its variable.
    env = cli_env(TEST_REDIS_URL, CRAWLER_EXTRACT=",".join(names), CRAWLER_EXTRACT_TIMEOUT="0.5")

    job, result = crawl_ok(
        workdir, plain_site.url("/"), "--job", "extract-faults", "--allow-private", "--delay", "0", "--workers", "2",
        env=env,
    )

    pages = [plain_site.url("/")] + [plain_site.url(f"/p/{n}") for n in range(1, FAULTY_PAGES + 1)]
    assert f"job {job} finished: {len(pages) + 1} stored" in " ".join(result.stdout.split()), result.stderr
    records = by_url(export_jsonl(workdir, job, env=env))
    assert set(records) == {*pages, plain_site.url("/missing")}
    error = "; ".join([
        f"{FAULTY}:boom: RuntimeError: boom",
        f"{FAULTY}:slow: timed out after 0.5 s (CRAWLER_EXTRACT_TIMEOUT)",
        f"{FAULTY}:scalar: TypeError: returned a int, not a dict or an iterable of dicts",
        f"{FAULTY}:notjson: TypeError: item 0 is not JSON: Object of type set is not JSON serializable",
    ])
    for url in pages:
        record = records[url]
        served = plain_site.routes[url[len(plain_site.base):]]
        parsed = parse_html(served.body, url)
        assert (record["status"], record["error"], record["title"], record["outlinks"]) == (
            200, None, parsed.title, parsed.outlinks
        ), url
        assert record["extract_error"] == error, url
    missing = records[plain_site.url("/missing")]
    # A failed fetch has nothing to extract from: no items, no extract_error.
    assert (missing["status"], missing["error"], missing["extract_error"]) == (404, "HTTP 404", None)

    result = crawler(workdir, "export", "--job", job, "--items", env=env)
    assert result.returncode == 0, describe(result, workdir)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert {line["extractor"] for line in lines} == {f"{FAULTY}:good"}, "only the good extractor's items"
    found = Counter(item_key(line["url"], line["extractor"], line["item"]) for line in lines)
    good = {
        url: {"title": records[url]["title"], "url": (records[url]["outlinks"] or [None])[0],
              "depth": records[url]["depth"], "status": 200}
        for url in pages
    }
    assert found == Counter(item_key(url, f"{FAULTY}:good", item) for url, item in good.items())

    # CSV: an item's own "url" key (a link it found) must not take the page's column.
    out = workdir / "items.csv"
    result = crawler(workdir, "export", "--job", job, "--items", "--format", "csv", "--output", str(out), env=env)
    assert result.returncode == 0, describe(result, workdir)
    with open(out, newline="", encoding="utf-8") as handle:
        header = next(csv.reader(handle))
        handle.seek(0)
        rows = list(csv.DictReader(handle))
    assert (header.count("url"), sorted(row["url"] for row in rows)) == (1, sorted(pages)), (
        f"the page URL column of the items CSV is overwritten by the items' own url key; header {header}, "
        f"first rows {rows[:3]}"
    )
    assert header.index("item.url") > header.index("extractor")
    assert {row["url"]: row["item.url"] for row in rows} == {url: csv_cell(item["url"]) for url, item in good.items()}


# --- a name that cannot be imported, at seed time ---------------------------------------------


@pytest.mark.parametrize("command", ["crawl", "seed"])
def test_an_unknown_extractor_is_refused_when_the_job_is_seeded(workdir: Path, redis_client, command: str) -> None:
    job = f"extract-unknown-{command}"

    result = crawler(workdir, command, "http://127.0.0.1:9/", "--job", job, "--extract", "nosuch:fn",
                     env=cli_env(TEST_REDIS_URL))

    assert result.returncode == 2, describe(result, workdir)
    assert result.stderr.strip() == "crawler: error: cannot import extractor nosuch:fn: No module named 'nosuch'", (
        describe(result, workdir)
    )
    assert "Traceback" not in result.stdout + result.stderr
    assert not [key for key in redis_client.scan_iter(f"*{job}*")], "the refused job was created"
    assert_nothing_left(workdir)


# --- a worker that cannot import the job's module -----------------------------------------------

MISSING_SHOP = "crawler_it_shop"
MISSING_PAGES = 6


def test_a_worker_without_the_module_records_each_page_with_the_import_error(
    tmp_path: Path, redis_client, monkeypatch, forget_modules
) -> None:
    host = Host("127.0.0.1")
    host.routes["/"] = page("root", [f"/p/{n}" for n in range(1, MISSING_PAGES + 1)])
    for number in range(1, MISSING_PAGES + 1):
        host.routes[f"/p/{number}"] = product_page(product(number))
    host.start()
    # This process can import the module (seeding checks it), the workers cannot: it is on
    # neither their path nor in their working directory.
    modules = write_module(tmp_path / "modules", MISSING_SHOP, SHOP_MODULE)
    monkeypatch.syspath_prepend(str(modules))
    forget_modules.append(MISSING_SHOP)
    cluster = Cluster(tmp_path, TEST_REDIS_URL)
    assert str(modules) not in cluster.env.get("PYTHONPATH", "") and Path.cwd() != modules
    try:
        cluster.start_worker()
        cluster.start_beat()
        seed([host.url("/")], job="extract-missing", allow_private=True, delay=0, extract=[f"{MISSING_SHOP}:products"])
        stats = cluster.wait_finished("extract-missing", timeout=90)
    finally:
        cluster.stop()
        host.stop()

    records = cluster.records("extract-missing")
    expected = [host.url("/")] + [host.url(f"/p/{n}") for n in range(1, MISSING_PAGES + 1)]
    assert sorted(r.url for r in records) == sorted(expected) and stats.stored == len(expected)
    message = f"cannot import extractor {MISSING_SHOP}:products: No module named '{MISSING_SHOP}'"
    assert {r.url: (r.status, r.error, r.extract_error) for r in records} == {
        url: (200, None, message) for url in expected
    }
    titles = {r.url: r.title for r in records}
    assert titles[host.url("/p/1")] == "Widget 1 - Shop"
    store = open_store(cluster.store_url)
    try:
        assert list(store.items("extract-missing")) == []
    finally:
        store.close()
