"""The straining builder keeps what bs4's lxml builder with a SoupStrainer of the same
tag names keeps (comments aside), so the parser's results do not depend on which ran."""

from __future__ import annotations

import pytest
from bs4 import BeautifulSoup
from bs4.filter import SoupStrainer

from pipeline.parse.soup import strained_soup

NAMES = ("a", "area", "base", "title", "meta")
DOCUMENTS = [
    "",
    "   ",
    "text only, no tags",
    "\x00\x01 binary-looking garbage \xff",
    "<html><head><title>Ü ñ — x</title><meta name=robots content='noindex, NOFOLLOW'></head></html>",
    "<title>T <a href='/in-title'>x</a></title><a href='/b' rel='nofollow noopener'>b</a>",
    "<a href=/c><b>bold</b> tail <i>more</i> end</a> outside",
    "<base href='http://x.example/dir/'><a href='e'>e</a>",
    "<svg><a xlink:href='/s' href='/t'>s</a></svg><math><a href='/m'>m</a></math>",
    "<map name=m><area href='/area' alt=x></map>",
    "<a href='/x'>" * 3 + "unclosed",
    "<a class='x y' rel='a b' href=/r data-x='1'>r</a><a href='/r'>again</a>",
    "<table><tr><td><a href='/cell'>c</a></td></tr></table><p><a href='/p'>p",
    "<html><body><a href=/in>in</a></body></html><a href=/after>after</a> text <a href=/last>last</a>",
    "<a href=/before>before</a><html><head><title>t</title></head><body><a href=/in>in</a></body></html>",
    "<html><body><a href=/1>1</a></body></html></html><title>late</title><a href=/2>2</a></body><a href=/3>3</a>",
    "<!DOCTYPE html><!-- c --><html><body><a href=/x>x</a></body></html><!-- end --><meta name=robots content=none>",
]


@pytest.mark.parametrize("html", DOCUMENTS)
def test_keeps_what_a_soup_strainer_of_the_same_names_keeps(html: str) -> None:
    expected = BeautifulSoup(html, "lxml", parse_only=SoupStrainer(list(NAMES)))
    soup = strained_soup(html, NAMES)

    assert str(soup) == str(expected)
    assert [tag.get("rel") for tag in soup.find_all("a")] == [tag.get("rel") for tag in expected.find_all("a")]


@pytest.mark.parametrize(
    "html",
    [
        "<font>" * 300 + "<a href=/after-deep-nesting>x</a>",
        "<font>" * 2100 + "<a href=/after-deeper-than-lxml-goes>x</a>",
        "<p>" + "x" * (11 * 1024 * 1024) + "</p><a href=/after-a-huge-text>x</a>",
    ],
)
def test_a_page_past_libxml2s_tree_limits_keeps_its_links(html: str) -> None:
    expected = BeautifulSoup(html, "lxml", parse_only=SoupStrainer(list(NAMES)))

    assert [tag["href"] for tag in strained_soup(html, NAMES).find_all("a")] == [
        tag["href"] for tag in expected.find_all("a")
    ] != []


def test_a_document_declaring_its_encoding_in_an_xml_prolog_still_parses() -> None:
    # lxml refuses a str that declares an encoding; the builder is then given its bytes.
    html = '<?xml version="1.0" encoding="ISO-8859-1"?><html><title>caf\u00e9</title><a href="/a">a</a></html>'

    soup = strained_soup(html, NAMES)

    assert soup.title is not None and soup.title.get_text() == "caf\u00e9"
    assert [tag["href"] for tag in soup.find_all("a")] == ["/a"]


def test_comments_inside_a_kept_element_are_left_out() -> None:
    # bs4's builder keeps them as Comment nodes; nothing the parser reads changes.
    soup = strained_soup("<a href=/c>one <!-- hidden --> two</a>", NAMES)

    assert str(soup) == '<a href="/c">one  two</a>'
