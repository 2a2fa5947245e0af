"""How a setting is declared and read: a dataclass field with its one description, and
its value from a `CRAWLER_*` variable, checked for its type."""

from __future__ import annotations

import dataclasses
import math
from collections.abc import Mapping
from collections.abc import Set as AbstractSet
from dataclasses import field, fields
from typing import Any, get_type_hints

from pipeline.errors import ConfigError

ENV_PREFIX = "CRAWLER_"
# Zero would make every request fail at once: these must be positive.
POSITIVE = frozenset(
    {"timeout", "download_deadline", "lease_timeout", "dispatch_interval", "proxy_cooldown",
     "store_timeout", "extract_timeout", "bloom_error_rate", "render_timeout"}
)


def setting(text: str, default: Any, shown: str | None = None) -> Any:
    """A setting with its meaning; `shown` stands for a default that depends on the machine."""
    return field(default=default, metadata={"doc": text, "shown": shown})


def variable(name: str) -> str:
    """The CRAWLER_* variable of setting `name`."""
    return ENV_PREFIX + name.upper()


def public_fields(*klasses: type) -> list[dataclasses.Field[Any]]:
    """The fields of `klasses` that are settings (not Settings.policy, nor internal ones)."""
    return [f for klass in klasses for f in fields(klass) if f.name != "policy" and not f.metadata.get("internal")]


def spell(value: Any) -> str:
    """`value` as a CRAWLER_* variable gives it: the inverse of `_convert`."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, tuple):
        return ",".join(value)
    return str(value)


def is_field(klass: type, name: str) -> bool:
    return any(f.name == name for f in fields(klass))


def from_env(klass: type, env: Mapping[str, str], exclude: AbstractSet[str] = frozenset()) -> dict[str, Any]:
    out = {}
    for f in fields(klass):
        name = ENV_PREFIX + f.name.upper()
        if f.name not in exclude and not f.metadata.get("internal") and name in env:
            out[f.name] = env[name]
    return out


def coerce(klass: type, values: Mapping[str, Any]) -> dict[str, Any]:
    hints = get_type_hints(klass)
    return {name: _convert(name, hints[name], value) for name, value in values.items()}


def _convert(name: str, hint: Any, value: Any) -> Any:
    variable = ENV_PREFIX + name.upper()
    try:
        if hint is bool:
            if isinstance(value, bool):
                return value
            text = str(value).strip().lower()
            if text in {"1", "true", "yes", "on"}:
                return True
            if text in {"0", "false", "no", "off", ""}:
                return False
            raise ValueError(value)
        if hint is int:
            number = int(value)
            if number < 0:
                raise ValueError(value)
            return number
        if hint is float:
            real = float(value)
            if not math.isfinite(real) or real < 0 or (real == 0 and name in POSITIVE):
                raise ValueError(value)
            return real
        if hint == tuple[str, ...]:
            if isinstance(value, str):
                return tuple(part.strip() for part in value.split(",") if part.strip())
            return tuple(str(part) for part in value)
        return str(value)
    except (TypeError, ValueError):
        raise ConfigError(f"{variable}: invalid value {value!r}") from None
