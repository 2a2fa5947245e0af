"""Users' extractors without services: naming and importing them, what a page offers
them, and every way one can fail without costing the page or the other extractors."""

from __future__ import annotations

import sys
import textwrap
import time

import pytest

from pipeline.crawl import Payload, steps
from pipeline.errors import ConfigError
from pipeline.fetch import FetchResult
from pipeline.frontier import Lease
from pipeline.parse import Page, check_extractors, run_extractors
from pipeline.parse.extract import resolve
from pipeline.settings import Policy
from pipeline.store.base import Item

MODULE = "crawler_test_extractors"
HTML = """<html lang="en"><head><title>Shop</title></head><body>
<div class="product" data-sku="A1"><h2>Anvil</h2><span itemprop="price" content="12.5"></span></div>
<div class="product" data-sku="B2"><h2>Bucket</h2></div>
<a href="/about">about</a> <a rel="next" href="?page=2">next</a>
</body></html>"""


@pytest.fixture
def user_module(tmp_path, monkeypatch):
    """A module of extractors in a fresh working directory, imported the way a worker does."""
    (tmp_path / f"{MODULE}.py").write_text(textwrap.dedent('''
        import time

        calls = []

        def products(page):
            calls.append(page.url)
            for card in page.soup.select("div.product"):
                price = card.select_one("[itemprop=price]")
                yield {"name": card.select_one("h2").get_text(strip=True), "sku": card["data-sku"],
                       "price": float(price["content"]) if price else None}
            page.follow(page.soup.select_one("a[rel=next]")["href"])

        def boom(page):
            raise RuntimeError("boom")

        def slow(page):
            time.sleep(5)
            return {"late": True}

        def listing(page):
            return [1, 2]

        def scalar(page):
            return 42

        def unserialisable(page):
            return {"when": object()}

        def nul(page):
            return {"text": "a\\x00b"}

        def many(page):
            return ({"n": n} for n in range(5))

        def one(page):
            return {"status": page.status, "type": page.headers["content-type"], "depth": page.depth}

        def nothing(page):
            return None

        not_a_function = 3
    '''))
    monkeypatch.chdir(tmp_path)
    monkeypatch.setattr(sys, "path", [p for p in sys.path if p not in ("", str(tmp_path))])
    yield sys.modules.get(MODULE)
    sys.modules.pop(MODULE, None)


def page(**changes):
    values = dict(url="http://shop.example/list", final_url="http://shop.example/list?page=1", status=200,
                  headers={"Content-Type": "text/html"}, content_type="text/html", encoding="utf-8", text=HTML,
                  depth=2, job="shop")
    values.update(changes)
    return Page(**values)


def run(names, target=None, timeout=2.0, max_items=100):
    return run_extractors(target or page(), names, timeout, max_items)


def test_an_extractor_reads_the_soup_and_follows_links(user_module):
    target = page()
    done = run([f"{MODULE}:products"], target)

    assert done.error is None
    assert [item.data for item in done.items] == [
        {"name": "Anvil", "sku": "A1", "price": 12.5},
        {"name": "Bucket", "sku": "B2", "price": None},
    ]
    assert {item.extractor for item in done.items} == {f"{MODULE}:products"}
    assert target.followed == ["http://shop.example/list?page=2"]


def test_the_working_directory_is_on_the_path_as_celery_puts_it(user_module):
    assert callable(resolve(f"{MODULE}:products"))


def test_the_soup_is_built_once_for_all_the_jobs_extractors(user_module):
    target = page()
    run([f"{MODULE}:products", f"{MODULE}:products"], target)
    assert target.soup is target.soup
    assert "soup" in vars(target)


def test_names_that_cannot_be_imported_are_refused_with_one_line(user_module):
    with pytest.raises(ConfigError) as missing:
        check_extractors(["nosuchmodule:products"])
    with pytest.raises(ConfigError) as no_function:
        check_extractors([f"{MODULE}:nope"])
    with pytest.raises(ConfigError) as not_callable:
        check_extractors([f"{MODULE}:not_a_function"])
    with pytest.raises(ConfigError) as malformed:
        check_extractors(["products"])

    assert str(missing.value) == "cannot import extractor nosuchmodule:products: No module named 'nosuchmodule'"
    assert str(no_function.value) == f"cannot import extractor {MODULE}:nope: {MODULE} has no function 'nope'"
    assert "has no function 'not_a_function'" in str(not_callable.value)
    assert "neither MODULE:FUNCTION nor a built-in (metadata, text)" in str(malformed.value)
    check_extractors(["text", "metadata", f"{MODULE}:products"])


@pytest.mark.parametrize(
    ("name", "error"),
    [
        ("boom", "boom: RuntimeError: boom"),
        ("listing", "listing: TypeError: item 0 is a int, not a dict"),
        (
            "unserialisable",
            "unserialisable: TypeError: item 0 is not JSON: Object of type object is not JSON serializable",
        ),
        ("nul", "nul: ValueError: item 0 holds a NUL character"),
        ("scalar", "scalar: TypeError: returned a int, not a dict or an iterable of dicts"),
        ("many", "many: ValueError: more than 3 items (CRAWLER_MAX_ITEMS)"),
    ],
)
def test_a_failing_extractor_costs_only_its_own_items(user_module, name, error):
    done = run([f"{MODULE}:{name}", f"{MODULE}:products"], max_items=3)

    assert done.error == f"{MODULE}:{error}"
    assert [item.data["sku"] for item in done.items] == ["A1", "B2"]


def test_a_slow_extractor_is_given_up_on_at_its_timeout(user_module):
    started = time.monotonic()
    done = run([f"{MODULE}:slow", f"{MODULE}:products"], timeout=0.3)

    assert time.monotonic() - started < 2
    assert done.error == f"{MODULE}:slow: timed out after 0.3 s (CRAWLER_EXTRACT_TIMEOUT)"
    assert len(done.items) == 2


def test_a_module_missing_on_the_worker_is_the_pages_error_not_the_crawls(user_module):
    done = run(["nosuchmodule:products", f"{MODULE}:products"])

    assert done.error == "cannot import extractor nosuchmodule:products: No module named 'nosuchmodule'"
    assert len(done.items) == 2


def test_errors_of_several_extractors_are_all_said(user_module):
    done = run([f"{MODULE}:boom", f"{MODULE}:listing"])
    assert done.error == f"{MODULE}:boom: RuntimeError: boom; {MODULE}:listing: TypeError: item 0 is a int, not a dict"


def test_a_dict_is_one_item_and_none_is_none(user_module):
    done = run([f"{MODULE}:one", f"{MODULE}:nothing"])
    assert [item.data for item in done.items] == [{"status": 200, "type": "text/html", "depth": 2}]
    assert done.error is None


def test_follow_keeps_only_usable_links_once():
    target = page()
    for url in ("/a", "http://shop.example/a", "mailto:x@example.com", "javascript:void(0)", "/" + "x" * 3000, "/b"):
        target.follow(url)
    assert target.followed == ["http://shop.example/a", "http://shop.example/b"]


def _payload(text=HTML, error=None, status=200, kind="page"):
    lease = Lease(url="http://shop.example/list", host="shop.example", token=1, depth=1, kind=kind)
    result = FetchResult(url=lease.url, final_url=lease.url, status=status, content_type="text/html",
                         text=text, error=error, headers={"Content-Type": "text/html"})
    return Payload("shop", lease, result)


def test_the_parse_step_runs_the_jobs_extractors_and_schedules_followed_links(user_module):
    parsed = steps.parse(_payload(), Policy(extract=(f"{MODULE}:products",)))

    assert [item.data["sku"] for item in parsed.items] == ["A1", "B2"]
    assert parsed.outlinks == ["http://shop.example/about", "http://shop.example/list?page=2"]
    assert parsed.result.text is None and parsed.result.headers is None, "the page stops at the parse step"
    record = steps.to_record(replace_error(parsed, "x: boom"), Policy())
    assert record.extract_error == "x: boom"


def replace_error(payload, error):
    from dataclasses import replace

    return replace(payload, extract_error=error)


def test_a_job_without_extractors_has_no_items_to_replace():
    parsed = steps.parse(_payload(), Policy())
    assert parsed.items is None and parsed.extract_error is None


def test_a_failed_fetch_has_an_empty_list_that_clears_earlier_items(user_module):
    parsed = steps.parse(_payload(text=None, error="HTTP 404", status=404), Policy(extract=(f"{MODULE}:products",)))
    assert parsed.items == [] and parsed.extract_error is None


def test_items_travel_between_stages_as_json(user_module):
    parsed = steps.parse(_payload(), Policy(extract=(f"{MODULE}:products",)))
    again = Payload.from_json(parsed.to_json())
    assert again.items == parsed.items and isinstance(again.items[0], Item)
