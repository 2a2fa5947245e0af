"""The pages the extraction tests crawl and what they check them with: product pages in
one known HTML shape, the users' extractor module that reads them, and small helpers to
compare what was exported with what was served."""

from __future__ import annotations

import html
import json
import textwrap
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from tests.integration.site import Response


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


def item_key(url: str, extractor: str, data: dict[str, Any]) -> tuple[str, str, str]:
    return url, extractor, json.dumps(data, sort_keys=True, ensure_ascii=False)


def csv_cell(value: Any) -> str:
    """What `csv` writes of an item's value: nested values as JSON text, None as nothing."""
    if value is None:
        return ""
    if isinstance(value, (dict, list)):
        return json.dumps(value, ensure_ascii=False)
    return str(value)


def tree_links(number: int, pages: int) -> list[str]:
    return [f"/p/{c}" for c in (2 * number, 2 * number + 1, 3 * number) if c <= pages]
