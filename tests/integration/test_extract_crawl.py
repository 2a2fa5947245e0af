"""Users' extraction end to end: extractors written into a directory of their own, run
by real worker processes on a real local site, their items read back through
`crawler export --items` and the store.

- the CLI crawl (`crawler crawl --extract`, in the module's directory: the workers import
  it from their working directory), with `page.follow` reaching listing pages no link
  points to, the built-in `text`, and both export formats;
- a worker SIGKILLed mid-crawl: the re-fetched pages' items are stored once;
- extractors that raise, time out, or return what is not a dict of JSON values: each
  page keeps its record, with each failure named in `extract_error`;
- a name that cannot be imported, refused at seed time (`crawl` and `seed`);
- a worker that cannot import a job's module: every page recorded with the import error.
"""

from __future__ import annotations

import csv
import html
import json
import os
import sys
import textwrap
import threading
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass
from http.server import BaseHTTPRequestHandler
from pathlib import Path
from typing import Any

import pytest

from pipeline.parse import parse_html
from pipeline.store import open_store
from tasks import seed
from tests.conftest import TEST_REDIS_URL
from tests.integration.cli import (
    REPO,
    assert_nothing_left,
    by_url,
    cli_env,
    crawl_ok,
    crawler,
    describe,
    export_jsonl,
)
from tests.integration.cluster import Cluster, wait_until
from tests.integration.site import Host, Response, page

pytestmark = pytest.mark.integration


# --- the shop: product pages in one known HTML shape -----------------------------------------


@dataclass(frozen=True)
class Product:
    number: int
    name: str
    price: float | None
    sku: str
    tags: tuple[str, ...]

    def item(self) -> dict[str, Any]:
        """What the users' `products` extractor below makes of the product's card."""
        return {"name": self.name, "price": self.price, "sku": self.sku, "tags": list(self.tags)}


def product(number: int) -> Product:
    """Product `number`: one with markup to unescape, one with non-ASCII text, one without
    a price (the extractor's None, `null` in JSON Lines and an empty cell in CSV)."""
    name = {3: "Café crème mug", 5: "Salt & Pepper <Set>"}.get(number, f"Widget {number}")
    price = None if number == 17 else round(number * 1.25 + 0.99, 2)
    return Product(number, name, price, f"SKU-{number:04d}", (f"size-{number % 3}", "shop"))


def product_page(item: Product, links: list[str] = ()) -> Response:
    price = (
        "" if item.price is None
        else f'<span itemprop="price" content="{item.price}">&euro;{item.price}</span>'
    )
    tags = "".join(f"<li>{html.escape(tag)}</li>" for tag in item.tags)
    anchors = "".join(f'<a href="{link}">{link}</a> ' for link in links)
    return Response(body=(
        f"<html><head><title>{html.escape(item.name)} - Shop</title></head><body>"
        f'<nav><a href="/">Home</a></nav>'
        f'<div class="product" data-sku="{item.sku}"><h2>{html.escape(item.name)}</h2>{price}'
        f'<ul class="tags">{tags}</ul></div>{anchors}</body></html>'
    ))


SHOP_MODULE = '''
def products(page):
    """One item per product card."""
    for card in page.soup.select("div.product"):
        price = card.select_one("[itemprop=price]")
        yield {
            "name": card.select_one("h2").get_text(strip=True),
            "price": float(price["content"]) if price else None,
            "sku": card.get("data-sku"),
            "tags": [li.get_text(strip=True) for li in card.select("ul.tags li")],
        }


def listing(page):
    """The next listing page is named by a <link rel=next>, which the crawler's own link
    parser does not follow: only this reaches it."""
    nxt = page.soup.select_one("link[rel=next]")
    if nxt is not None:
        page.follow(nxt["href"])
'''


def write_module(directory: Path, name: str, source: str) -> Path:
    directory.mkdir(parents=True, exist_ok=True)
    (directory / f"{name}.py").write_text(textwrap.dedent(source), encoding="utf-8")
    return directory


@pytest.fixture
def forget_modules() -> Iterator[list[str]]:
    """Modules this test imports in its own process (seeding checks the extractors),
    dropped from sys.modules afterwards."""
    names: list[str] = []
    yield names
    for name in names:
        sys.modules.pop(name, None)


def item_key(url: str, extractor: str, data: dict[str, Any]) -> tuple[str, str, str]:
    return url, extractor, json.dumps(data, sort_keys=True, ensure_ascii=False)


# --- 1. `crawler crawl --extract` in the module's directory ------------------------------------

LISTING_PAGES = 8
PER_PAGE = 5
ARTICLES = 5
SHOP = "crawler_it_shop_cli"


def distinctive(number: int) -> str:
    return f"The lighthouse keeper of island {number} counted exactly {number * 7} grey gulls before dawn."


def article_page(number: int) -> Response:
    filler = (
        "Long before the ferries ran on a timetable, the harbour lived by the tides, and the people who worked it "
        "learned to read the water the way others read a newspaper, every ripple a headline and every gust a rumour. "
    )
    paragraphs = [
        filler * 2,
        distinctive(number) + " " + filler,
        "In the evenings the keepers wrote long letters home, describing storms, shipwrecks narrowly avoided and "
        "the slow, patient work of polishing the great lens until it shone like a second moon over the bay. " * 2,
    ]
    body = "".join(f"<p>{text}</p>" for text in paragraphs)
    return Response(body=(
        f'<html lang="en"><head><title>Island {number} - Shop journal</title></head><body>'
        f'<nav><a href="/">Home</a> <a href="/list?page=1">Products</a></nav>'
        f"<article><h1>The keeper of island {number}</h1>{body}</article>"
        f"<footer>Shop journal, all rights reserved</footer></body></html>"
    ))


def listing_page(number: int) -> Response:
    """Listing page `number` links its products; the next page is only in a <link rel=next>."""
    start = (number - 1) * PER_PAGE + 1
    entries = "".join(
        f'<li><a href="/product/{n}">{html.escape(product(n).name)}</a></li>' for n in range(start, start + PER_PAGE)
    )
    nxt = f'<link rel="next" href="/list?page={number + 1}">' if number < LISTING_PAGES else ""
    return Response(body=(
        f"<html><head><title>Products, page {number}</title>{nxt}</head>"
        f'<body><nav><a href="/">Home</a></nav><ul class="listing">{entries}</ul></body></html>'
    ))


@pytest.fixture
def shop() -> Iterator[Host]:
    host = Host("127.0.0.1")
    host.routes["/"] = page("Shop", ["/list?page=1", *(f"/article/{n}" for n in range(1, ARTICLES + 1))])
    for number in range(1, LISTING_PAGES + 1):
        host.routes[f"/list?page={number}"] = listing_page(number)
    for number in range(1, LISTING_PAGES * PER_PAGE + 1):
        host.routes[f"/product/{number}"] = product_page(product(number))
    for number in range(1, ARTICLES + 1):
        host.routes[f"/article/{number}"] = article_page(number)
    host.start()
    yield host
    host.stop()


def csv_cell(value: Any) -> str:
    """What `csv` writes of an item's value: nested values as JSON text, None as nothing."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def test_crawl_with_extractors_in_the_working_directory_exports_every_item_once(
    workdir: Path, shop: Host, redis_client
) -> None:
    write_module(workdir, SHOP, SHOP_MODULE)
    # The site is what the test says: later listing pages are not linked for the parser.
    for number in range(1, LISTING_PAGES):
        body = shop.routes[f"/list?page={number}"].body
        assert shop.url(f"/list?page={number + 1}") not in parse_html(body, shop.url(f"/list?page={number}")).outlinks
    env = cli_env(TEST_REDIS_URL)
    assert str(workdir) not in env["PYTHONPATH"].split(os.pathsep), "the module must come from the working directory"

    job, result = crawl_ok(
        workdir, shop.url("/"), "--job", "extract-cli", "--extract", f"{SHOP}:products",
        "--extract", f"{SHOP}:listing", "--extract", "text", "--allow-private", "--delay", "0", "--workers", "2",
        env=env,
    )

    assert job == "extract-cli"
    assert_nothing_left(workdir)
    records = by_url(export_jsonl(workdir, job, env=env))
    expected_pages = (
        {shop.url("/")}
        | {shop.url(f"/list?page={n}") for n in range(1, LISTING_PAGES + 1)}
        | {shop.url(f"/product/{n}") for n in range(1, LISTING_PAGES * PER_PAGE + 1)}
        | {shop.url(f"/article/{n}") for n in range(1, ARTICLES + 1)}
    )
    assert set(records) == expected_pages
    errors = {url: (r["error"], r["extract_error"]) for url, r in records.items() if r["error"] or r["extract_error"]}
    assert errors == {}, "records with an error or an extract_error"
    # The last listing page was reached by page.follow alone, at the depth of a link.
    last = records[shop.url(f"/list?page={LISTING_PAGES}")]
    assert (last["status"], last["title"], last["depth"]) == (200, f"Products, page {LISTING_PAGES}", LISTING_PAGES)
    assert shop.requests()[f"/list?page={LISTING_PAGES}"] == 1
    second = records[shop.url("/list?page=2")]
    assert shop.url("/list?page=3") in second["outlinks"], "a followed URL is among the page's outlinks"

    # JSON Lines: every product's item exactly once, with exactly its values.
    result = crawler(workdir, "export", "--job", job, "--items", env=env)
    assert result.returncode == 0, describe(result, workdir)
    lines = [json.loads(line) for line in result.stdout.splitlines()]
    assert all(set(line) == {"url", "extractor", "item"} for line in lines)
    products = [line for line in lines if line["extractor"] == f"{SHOP}:products"]
    expected_products = {
        shop.url(f"/product/{n}"): product(n).item() for n in range(1, LISTING_PAGES * PER_PAGE + 1)
    }
    assert Counter(line["url"] for line in products) == Counter(set(expected_products)), "one item per product page"
    assert {line["url"]: line["item"] for line in products} == expected_products
    assert not [line for line in lines if line["extractor"] == f"{SHOP}:listing"], "listing yields no items"
    last_numbers = range((LISTING_PAGES - 1) * PER_PAGE + 1, LISTING_PAGES * PER_PAGE + 1)
    last_products = {shop.url(f"/product/{n}") for n in last_numbers}
    assert last_products <= {line["url"] for line in products}, "the products of the last listing page"
    # The built-in text: one item per article, with the article's own sentence in its text.
    texts: dict[str, list[dict]] = {}
    for line in lines:
        if line["extractor"] == "text":
            texts.setdefault(line["url"], []).append(line["item"])
    for number in range(1, ARTICLES + 1):
        found = texts.get(shop.url(f"/article/{number}"), [])
        assert len(found) == 1, f"text items of article {number}: {found}"
        assert distinctive(number) in found[0].get("text", ""), found[0]

    # CSV: the same items, url and extractor first, then every key, nested values as JSON.
    out = workdir / "items.csv"
    result = crawler(workdir, "export", "--job", job, "--items", "--format", "csv", "--output", str(out), env=env)
    assert result.returncode == 0 and result.stdout == "", describe(result, workdir)
    assert f"exported {len(lines)} items to {out}" in result.stderr
    with open(out, newline="", encoding="utf-8") as handle:
        reader = csv.DictReader(handle)
        rows = list(reader)
    columns = list(reader.fieldnames or [])
    keys = list(dict.fromkeys(key for line in lines for key in line["item"]))
    assert columns[:2] == ["url", "extractor"]
    assert sorted(columns[2:]) == sorted(keys) and len(columns) == len(set(columns))
    positions = [columns.index(key) for key in ("name", "price", "sku", "tags")]
    assert positions == sorted(positions), f"the product keys in the order first seen: {columns}"
    expected_rows = [
        {"url": line["url"], "extractor": line["extractor"], **{key: "" for key in keys},
         **{key: csv_cell(value) for key, value in line["item"].items()}}
        for line in lines
    ]
    assert sorted(map(json.dumps, rows)) == sorted(map(json.dumps, expected_rows))
    mug = next(row for row in rows if row["url"] == shop.url("/product/3") and row["extractor"] == f"{SHOP}:products")
    assert (mug["name"], mug["price"], mug["sku"], mug["tags"]) == (
        "Café crème mug", "4.74", "SKU-0003", '["size-0", "shop"]'
    )
    no_price = next(row for row in rows if row["url"] == shop.url("/product/17") and row["sku"])
    assert no_price["price"] == ""


# --- 2. a worker SIGKILLed mid-crawl ---------------------------------------------------------

KILL_PAGES = 90
GATE = "/p/64"  # depth 7: many pages are stored before the victim asks for it
KILL_SHOP = "crawler_it_shop_kill"


def tree_links(number: int, pages: int) -> list[str]:
    return [f"/p/{c}" for c in (2 * number, 2 * number + 1, 3 * number) if c <= pages]


@pytest.fixture
def gated_shop() -> Iterator[tuple[Host, threading.Event]]:
    """A tree of product pages answered after 40 ms each; the victim's request for GATE
    gets no answer until the test lets it (after the kill), so a page the victim was
    fetching is certainly fetched again."""
    host = Host("127.0.0.1", delay=0.04)
    released = threading.Event()
    host.routes["/"] = page("root", ["/p/1"])
    for number in range(1, KILL_PAGES + 1):
        host.routes[f"/p/{number}"] = product_page(product(number), tree_links(number, KILL_PAGES))
    gate = host.routes[GATE]

    def gated(handler: BaseHTTPRequestHandler) -> None:
        released.wait(60)
        body = gate.body.encode() if isinstance(gate.body, str) else gate.body
        handler.send_response(200)
        handler.send_header("Content-Type", gate.content_type)
        handler.send_header("Content-Length", str(len(body)))
        handler.end_headers()
        handler.wfile.write(body)

    host.routes[GATE] = gated
    host.start()
    yield host, released
    released.set()
    host.stop()


def test_worker_killed_mid_crawl_stores_each_item_once(
    tmp_path: Path, redis_client, gated_shop, monkeypatch, forget_modules, record_property
) -> None:
    host, released = gated_shop
    modules = write_module(tmp_path / "modules", KILL_SHOP, SHOP_MODULE)
    monkeypatch.syspath_prepend(str(modules))
    forget_modules.append(KILL_SHOP)
    pythonpath = os.pathsep.join(filter(None, [str(modules), str(REPO), os.environ.get("PYTHONPATH")]))
    cluster = Cluster(tmp_path, TEST_REDIS_URL, CRAWLER_LEASE_TIMEOUT="9", PYTHONPATH=pythonpath)
    try:
        victim = cluster.start_worker("victim", concurrency=2)
        cluster.start_beat()
        seed([host.url("/")], job="extract-kill", allow_private=True, delay=0, host_concurrency=4,
             extract=[f"{KILL_SHOP}:products"])
        frontier = cluster.frontier("extract-kill")
        wait_until(lambda: host.requests()[GATE] >= 1, f"the victim asking for {GATE}", timeout=90,
                   detail=lambda: f"{frontier.stats()}\n{cluster.logs()}")
        cluster.kill(victim)
        at_kill = frontier.stats()
        released.set()
        assert at_kill.state == "running" and at_kill.leased > 0 and at_kill.stored >= 5, at_kill
        cluster.start_worker("survivor", concurrency=2)
        stats = cluster.wait_finished("extract-kill", timeout=120)
    finally:
        cluster.stop()

    record_property("requeued", stats.requeued)
    assert stats.requeued > 0, "the kill hit URLs in flight, and they were handed out again"
    assert host.requests()[GATE] >= 2, "the page the victim was fetching was fetched again"
    records = cluster.records("extract-kill")
    assert sorted(r.url for r in records) == sorted([host.url("/")] + [host.url(f"/p/{n}") for n in
                                                                         range(1, KILL_PAGES + 1)])
    assert [(r.url, r.error, r.extract_error) for r in records if r.error or r.extract_error] == []
    store = open_store(cluster.store_url)
    try:
        items = list(store.items("extract-kill"))
    finally:
        store.close()
    found = Counter(item_key(url, item.extractor, item.data) for url, item in items)
    expected = Counter(
        item_key(host.url(f"/p/{n}"), f"{KILL_SHOP}:products", product(n).item()) for n in range(1, KILL_PAGES + 1)
    )
    assert {key: n for key, n in found.items() if n > 1} == {}, "items stored more than once"
    assert found == expected


# --- 3. extractors that fail --------------------------------------------------------------------

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


# --- 4. a name that cannot be imported, at seed time ---------------------------------------------


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


# --- 5. a worker that cannot import the job's module -----------------------------------------------

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
