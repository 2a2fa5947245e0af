"""Users' extraction end to end: extractors written into a directory of their own, run
by real worker processes on a real local site, their items read back through
`crawler export --items` and the store.

- the CLI crawl (`crawler crawl --extract`, in the module's directory: the workers import
  it from their working directory), with `page.follow` reaching listing pages no link
  points to, the built-in `text`, and both export formats;
- a worker SIGKILLed mid-crawl: the re-fetched pages' items are stored once.

Extractors that fail are test_extract_failures.py's.
"""

from __future__ import annotations

import csv
import html
import json
import os
import threading
from collections import Counter
from collections.abc import Iterator
from http.server import BaseHTTPRequestHandler
from pathlib import Path

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
from tests.integration.shop import (
    SHOP_MODULE,
    csv_cell,
    item_key,
    product,
    product_page,
    tree_links,
    write_module,
)
from tests.integration.site import Host, Response, page

pytestmark = pytest.mark.integration


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
