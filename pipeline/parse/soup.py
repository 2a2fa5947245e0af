"""A BeautifulSoup tree builder that strains in C.

bs4's own lxml builder hands every start tag, end tag and string of a page to Python
callbacks, and a SoupStrainer then throws most of them away: on a 30 KB page that is
ten times the cost of lxml's parse itself. This builder lets lxml build its tree in C,
then replays into the soup only the elements asked for, each with its whole subtree,
which is what a SoupStrainer of tag names keeps. The soup is an ordinary BeautifulSoup.
"""

from __future__ import annotations

from collections.abc import Iterable
from typing import Any

from bs4 import BeautifulSoup
from bs4.builder import ParserRejectedMarkup
from bs4.builder._lxml import LXMLTreeBuilder
from bs4.filter import SoupStrainer
from lxml import etree


class StrainingBuilder(LXMLTreeBuilder):
    """bs4's lxml HTML builder, keeping only the elements named `names` (and what is inside them)."""

    def __init__(self, names: Iterable[str], **kwargs: Any) -> None:
        super().__init__(**kwargs)
        self.names = frozenset(names)
        self.truncated = False

    def feed(self, markup: str | bytes) -> None:
        """Called by BeautifulSoup with each candidate decoding of the document until one
        is not rejected, as with bs4's own builder."""
        soup = self.soup
        assert soup is not None, "BeautifulSoup sets its builder's soup before feeding it"
        encoding = None if isinstance(markup, str) else soup.original_encoding
        parser = etree.HTMLParser(
            recover=True, encoding=encoding, remove_comments=True, remove_pis=True, huge_tree=True
        )
        try:
            root = etree.fromstring(markup, parser)
        except (ValueError, LookupError, etree.ParserError) as exc:
            # e.g. a str with an XML encoding declaration: the bytes are tried next.
            raise ParserRejectedMarkup(exc) from exc
        # A tree past libxml2's limits (even for huge trees: 2,048 levels deep) is cut
        # short where bs4's own builder, which builds no tree, reads on.
        self.truncated = any(error.type_name == "ERR_RESOURCE_LIMIT" for error in parser.error_log)
        if root is None:
            return
        # What comes after </html> is kept by libxml2 in a second root element, a sibling
        # of the first: links appended there are links all the same.
        for top in [*reversed(list(root.itersiblings(preceding=True))), root, *root.itersiblings()]:
            for element in top.iter(*self.names):
                if not any(ancestor.tag in self.names for ancestor in element.iterancestors()):
                    _replay(soup, element)


def _replay(soup: BeautifulSoup, element: etree._Element) -> None:
    """`element` and its subtree into `soup`. lxml's HTML parser knows no namespaces, so
    the tags go straight to the soup, past the XML builder's namespace bookkeeping."""
    soup.handle_starttag(element.tag, None, None, dict(element.attrib))
    if element.text:
        soup.handle_data(element.text)
    for child in element:
        if isinstance(child.tag, str):
            _replay(soup, child)
        if child.tail:
            soup.handle_data(child.tail)
    soup.handle_endtag(element.tag)


def strained_soup(markup: str, names: Iterable[str]) -> BeautifulSoup:
    """`markup` as a soup holding only the elements named `names`; bs4's own lxml builder
    with a SoupStrainer for the rare page lxml's tree cannot hold whole."""
    names = tuple(names)
    builder = StrainingBuilder(names)
    soup = BeautifulSoup(markup, builder=builder)
    if builder.truncated:
        return BeautifulSoup(markup, "lxml", parse_only=SoupStrainer(list(names)))
    return soup
