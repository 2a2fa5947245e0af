"""Users' own extraction: a job names extractors (``MODULE:FUNCTION``, or a built-in),
and every worker runs them on every page of the job, in the parse stage.

An extractor is a plain function ``f(page)`` that returns or yields dicts. It is the
user's code, so it is kept at arm's length: it runs in a thread of its own and is given
up on past the job's `extract_timeout`, what it returns must be dicts of JSON values, and
whatever goes wrong (an import, an exception, a timeout, a bad item) becomes the page's
`extract_error` while the page, its links and the other extractors' items are kept.
"""

from __future__ import annotations

import importlib
import json
import logging
import os
import sys
import threading
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass
from typing import Any

from pipeline.errors import ConfigError
from pipeline.parse.extractors import BUILTINS
from pipeline.parse.page import Page
from pipeline.store import Item

Extractor = Callable[[Page], Any]
logger = logging.getLogger(__name__)


class ExtractTimeout(Exception):
    """An extractor call ran past the job's extract_timeout."""


@dataclass(frozen=True)
class Extracted:
    """The items of one page, and what went wrong, if anything ("; "-joined reasons)."""

    items: list[Item]
    error: str | None


def check_extractors(names: Iterable[str]) -> None:
    """Refuse, at seed time, a job whose extractors this process cannot import: the
    workers, which share its code, would fail on every page."""
    for name in names:
        resolve(name)


def resolve(name: str) -> Extractor:
    """A built-in, or FUNCTION of MODULE imported from sys.path (the working directory
    included, as Celery's ``-A`` has it)."""
    if name in BUILTINS:
        return BUILTINS[name]
    module_name, _, function_name = name.partition(":")
    if not module_name or not function_name:
        builtins = ", ".join(sorted(BUILTINS))
        raise ConfigError(f"extractor {name!r} is neither MODULE:FUNCTION nor a built-in ({builtins})")
    _working_directory_on_path()
    try:
        module = importlib.import_module(module_name)
    except Exception as exc:
        raise ConfigError(f"cannot import extractor {name}: {exc}") from None
    function = getattr(module, function_name, None)
    if not callable(function):
        raise ConfigError(f"cannot import extractor {name}: {module_name} has no function {function_name!r}")
    extractor: Extractor = function
    return extractor


def run_extractors(page: Page, names: Sequence[str], timeout: float, max_items: int) -> Extracted:
    """Every extractor of the job on `page`, each within `timeout`; one that fails costs
    only its own items."""
    items: list[Item] = []
    errors: list[str] = []
    for name in names:
        try:
            found = _call(resolve(name), page, timeout, max_items)
        except ConfigError as exc:
            errors.append(str(exc))
        except ExtractTimeout:
            errors.append(f"{name}: timed out after {timeout:g} s (CRAWLER_EXTRACT_TIMEOUT)")
        except Exception as exc:
            errors.append(f"{name}: {type(exc).__name__}: {exc}")
        else:
            items += [Item(name, data) for data in found]
    return Extracted(items, "; ".join(errors) or None)


def _call(extractor: Extractor, page: Page, timeout: float, max_items: int) -> list[dict[str, Any]]:
    """The call in a daemon thread of its own, waited for up to `timeout`. Python cannot
    stop a thread, so a call given up on runs on until it returns, costing a thread but
    never the crawl (nor the worker's exit: the thread is a daemon)."""
    outcome: list[tuple[bool, Any]] = []

    def target() -> None:
        try:
            outcome.append((True, _collect(extractor, page, max_items)))
        except Exception as exc:
            outcome.append((False, exc))

    thread = threading.Thread(target=target, name="extract", daemon=True)
    thread.start()
    thread.join(timeout)
    if not outcome:
        logger.warning("an extractor ran past %g s on %s; its thread is left to finish on its own", timeout, page.url)
        raise ExtractTimeout()
    done, value = outcome[0]
    if not done:
        raise value
    items: list[dict[str, Any]] = value
    return items


def _collect(extractor: Extractor, page: Page, max_items: int) -> list[dict[str, Any]]:
    """What the call returned or yielded, checked: dicts of JSON values, at most `max_items`."""
    result = extractor(page)
    if result is None:
        return []
    if isinstance(result, (str, bytes)) or not isinstance(result, Iterable | dict):
        raise TypeError(f"returned a {type(result).__name__}, not a dict or an iterable of dicts")
    found = [result] if isinstance(result, dict) else result
    items: list[dict[str, Any]] = []
    for number, item in enumerate(found):
        if not isinstance(item, dict):
            raise TypeError(f"item {number} is a {type(item).__name__}, not a dict")
        if len(items) >= max_items:
            raise ValueError(f"more than {max_items} items (CRAWLER_MAX_ITEMS)")
        try:
            text = json.dumps(item, allow_nan=False)
        except (TypeError, ValueError) as exc:
            raise TypeError(f"item {number} is not JSON: {exc}") from None
        if "\\u0000" in text:
            # PostgreSQL's JSONB cannot hold it, and would refuse the page's record with it.
            raise ValueError(f"item {number} holds a NUL character")
        items.append(item)
    return items


def _working_directory_on_path() -> None:
    cwd = os.getcwd()
    if cwd not in sys.path and "" not in sys.path:
        sys.path.insert(0, cwd)
