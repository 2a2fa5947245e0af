"""What a fetched page says: its title and links, the sitemaps a site lists, and the
items of the users' extractors, each given the one `Page`."""

from pipeline.parse.extract import Extracted, check_extractors, run_extractors
from pipeline.parse.links import Links, parse_html
from pipeline.parse.page import Page
from pipeline.parse.sitemaps import Sitemap, parse_sitemap, sitemap_locations

__all__ = [
    "Extracted",
    "Links",
    "Page",
    "Sitemap",
    "check_extractors",
    "parse_html",
    "parse_sitemap",
    "run_extractors",
    "sitemap_locations",
]
