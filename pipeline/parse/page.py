"""The page as fetched and decoded, in the one form the job's extractors are given:
where it was found, the response, and a soup of the whole document built on first use.
It is the users' API (README, "Extracting data"), so it stays a plain object that any
`f(page)` can read; the crawler's own parser (links.py) reads far less of a page."""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass, field
from functools import cached_property
from urllib.parse import urljoin

from bs4 import BeautifulSoup
from requests.structures import CaseInsensitiveDict

from pipeline.urls import canonicalize


@dataclass
class Page:
    """What an extractor is given: the page as fetched and decoded. `soup` is built on
    first use and shared by the job's extractors; `follow` schedules a link."""

    url: str
    final_url: str
    status: int | None
    headers: Mapping[str, str]
    content_type: str | None
    encoding: str | None
    text: str | None
    depth: int
    job: str
    drop_params: tuple[str, ...] = ()
    max_url_length: int = 2048
    followed: list[str] = field(default_factory=list)

    def __post_init__(self) -> None:
        self.headers = CaseInsensitiveDict(self.headers)

    @cached_property
    def soup(self) -> BeautifulSoup:
        """The whole document (unlike the link parser's, which keeps only what it needs)."""
        return BeautifulSoup(self.text or "", "lxml")

    def follow(self, url: str) -> None:
        """Schedule `url` (absolute, or relative to the page) as a found link is: scope,
        depth, robots.txt, deduplication and budgets decide whether it is fetched."""
        try:
            link = canonicalize(urljoin(self.final_url, url), self.drop_params)
        except (TypeError, ValueError):
            return
        if link is not None and len(link) <= self.max_url_length and link not in self.followed:
            self.followed.append(link)
