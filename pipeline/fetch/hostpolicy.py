"""Per-host overrides of a job's policy, from a file named when the job is seeded
(`--host-policy FILE`): host patterns -> delay, host concurrency, robots on/off, user
agent, render mode. The seeding command reads the file once; its rules travel with the
job's policy (Policy.host_rules, one canonical line each), so every worker applies them
without it.

It lives in fetch/ because the fetcher is the lowest layer that applies a rule (the
user agent, robots.txt on or off), and the frontier, which may import fetch but not the
reverse, reads the same rules for the delay and concurrency its scripts keep.

The file: one rule a line, `PATTERN key=value ...`, `#` starts a comment, values with
spaces in quotes. PATTERN is a host name (or address), which matches that host on any
port, or `*.NAME`, which matches every subdomain of NAME (not NAME itself). Keys:
delay (seconds), host_concurrency (1 or more), robots (on/off), user_agent, render
(never/always/auto). A host takes its own name's rule, else that of its nearest `*.`
parent; what the rule leaves out comes from the job's policy.
"""

from __future__ import annotations

import math
import re
import shlex
from collections.abc import Mapping
from dataclasses import dataclass, replace
from functools import lru_cache
from pathlib import Path
from typing import Any
from urllib.parse import urlsplit

from pipeline.errors import ConfigError
from pipeline.settings import RENDER_MODES, Policy

# What a rule may set: the Policy fields of the same names.
KEYS = ("delay", "host_concurrency", "robots", "user_agent", "render")
_NAME = re.compile(r"[a-z0-9_-]+(\.[a-z0-9_-]+)*|[0-9a-f:.]*:[0-9a-f:.]*")
_TRUE, _FALSE = frozenset({"on", "true", "yes", "1"}), frozenset({"off", "false", "no", "0"})


@dataclass(frozen=True)
class HostRule:
    """One line of the file: what the hosts `pattern` matches crawl with (None: the job's)."""

    pattern: str
    delay: float | None = None
    host_concurrency: int | None = None
    robots: bool | None = None
    user_agent: str | None = None
    render: str | None = None

    def overrides(self) -> dict[str, Any]:
        """The policy values the rule sets."""
        return {key: getattr(self, key) for key in KEYS if getattr(self, key) is not None}

    def line(self) -> str:
        """The rule as one canonical line of the file (how the job's policy stores it)."""
        values = [f"{key}={_spell(value)}" for key, value in self.overrides().items()]
        return shlex.join([self.pattern, *values])


def read_rules(path: str) -> tuple[str, ...]:
    """The rules of the file at `path`, checked, as canonical lines; a bad line is a
    ConfigError naming the file and the line."""
    try:
        content = Path(path).read_text(encoding="utf-8")
    except (OSError, UnicodeDecodeError) as exc:
        raise ConfigError(f"host policy file {path}: cannot be read ({exc.__class__.__name__})") from None
    return tuple(rule.line() for rule in parse_rules(content, path))


def parse_rules(content: str, source: str) -> tuple[HostRule, ...]:
    """The rules of a host policy file's `content`; errors name `source` and the line."""
    rules: dict[str, HostRule] = {}
    for number, raw in enumerate(content.splitlines(), start=1):
        try:
            rule = _parse_line(raw)
        except ValueError as exc:
            raise ConfigError(f"{source}:{number}: {exc}") from None
        if rule is None:
            continue
        if rule.pattern in rules:
            raise ConfigError(f"{source}:{number}: {rule.pattern} has a rule already")
        rules[rule.pattern] = rule
    return tuple(rules.values())


def rule_for(lines: tuple[str, ...], host: str) -> HostRule | None:
    """The rule of `host` (a host key, host[:port]) among a policy's `lines`: its own
    name's, else its nearest `*.` parent's; None when none matches."""
    if not lines:
        return None
    rules = _compiled(lines)
    return next((rules[pattern] for pattern in candidates(host) if pattern in rules), None)


def for_host(policy: Policy, host: str) -> Policy:
    """The job's policy as it applies to `host`: its rule's values in place of the job's."""
    rule = rule_for(policy.host_rules, host)
    return policy if rule is None else replace(policy, **rule.overrides())


def candidates(host: str) -> list[str]:
    """The patterns that could match `host`, the most specific first: its name, then
    `*.` and each parent domain, nearest first (the frontier's Lua walks the same)."""
    name = urlsplit("//" + host).hostname or host
    parts = name.split(".")
    return [name, *("*." + ".".join(parts[i:]) for i in range(1, len(parts)))]


@lru_cache(maxsize=64)
def _compiled(lines: tuple[str, ...]) -> Mapping[str, HostRule]:
    return {rule.pattern: rule for rule in parse_rules("\n".join(lines), "host policy")}


def _parse_line(raw: str) -> HostRule | None:
    try:
        words = shlex.split(raw, comments=True)
    except ValueError as exc:
        raise ValueError(f"cannot be split into words ({exc})") from None
    if not words:
        return None
    pattern, *pairs = words
    pattern = _pattern(pattern)
    if not pairs:
        raise ValueError(f"{pattern} sets nothing: expected key=value after it ({', '.join(KEYS)})")
    values: dict[str, Any] = {}
    for pair in pairs:
        key, sep, value = pair.partition("=")
        if not sep or key not in KEYS:
            raise ValueError(f"expected key=value with a key of {', '.join(KEYS)}, got {pair!r}")
        if key in values:
            raise ValueError(f"{key} is given twice")
        values[key] = _value(key, value)
    return HostRule(pattern, **values)


def _pattern(word: str) -> str:
    pattern = word.lower()
    name = pattern[2:] if pattern.startswith("*.") else pattern
    if not _NAME.fullmatch(name):
        raise ValueError(f"expected a host name or *.NAME, got {word!r}")
    return pattern


def _value(key: str, value: str) -> Any:
    if key == "delay":
        try:
            seconds = float(value)
        except ValueError:
            seconds = -1.0
        if not (math.isfinite(seconds) and seconds >= 0):
            raise ValueError(f"delay: expected a number of seconds, got {value!r}")
        return seconds
    if key == "host_concurrency":
        if not value.isdigit() or int(value) < 1:
            raise ValueError(f"host_concurrency: expected a whole number of at least 1, got {value!r}")
        return int(value)
    if key == "robots":
        if value.lower() not in _TRUE | _FALSE:
            raise ValueError(f"robots: expected on or off, got {value!r}")
        return value.lower() in _TRUE
    if key == "render":
        if value.lower() not in RENDER_MODES:
            raise ValueError(f"render: expected one of {', '.join(RENDER_MODES)}, got {value!r}")
        return value.lower()
    if not value.strip():
        raise ValueError("user_agent: expected some text")
    return value


def _spell(value: Any) -> str:
    if isinstance(value, bool):
        return "on" if value else "off"
    return str(value)
