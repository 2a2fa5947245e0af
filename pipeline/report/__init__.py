"""A job's numbers from its records, and the HTML report drawn from them."""

from pipeline.report.html import render_html
from pipeline.report.summary import Report, summarize

__all__ = ["Report", "render_html", "summarize"]
