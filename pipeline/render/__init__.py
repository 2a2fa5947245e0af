"""Pages that need a browser: a bounded headless Chromium per worker process
(browser.py), one fetched page rendered under the crawler's rules (page.py), and which
pages are rendered (policy.py). Code outside the package imports these names from here."""

from pipeline.render.browser import Browser, BrowserHung
from pipeline.render.page import Answer, Rendered, Subfetch, render, subfetch
from pipeline.render.policy import (
    Choice,
    Decision,
    Evidence,
    Measure,
    Reason,
    always,
    always_reason,
    measure,
    renderable,
    wants_render,
)

__all__ = [
    "Answer",
    "Browser",
    "BrowserHung",
    "Choice",
    "Decision",
    "Evidence",
    "Measure",
    "Reason",
    "Rendered",
    "Subfetch",
    "always",
    "always_reason",
    "measure",
    "render",
    "renderable",
    "subfetch",
    "wants_render",
]
