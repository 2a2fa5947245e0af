"""The settings' reference, made from their own descriptions: docs/settings.md, the
README's table and each flag's help all come from here."""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping
from typing import Any

from pipeline.settings.policy import Policy
from pipeline.settings.process import Settings
from pipeline.settings.values import public_fields, spell, variable


def documented() -> list[tuple[str, str, str]]:
    """(variable, default, meaning) for every setting: the README table is checked against it."""
    return [(variable(f.name), shown_default(f.name), f.metadata["doc"]) for f in public_fields(Settings, Policy)]


def doc(name: str) -> str:
    """What setting `name` means: the one text the reference and the flags' help show."""
    text: str = _field(name).metadata["doc"]
    return text


def shown_default(name: str) -> str:
    """The default of setting `name` as its variable spells it ("" for none)."""
    f = _field(name)
    return f.metadata.get("shown") or spell(_default(f))


def reference(flags: Mapping[str, str]) -> str:
    """Every setting in Markdown: its variable, default, flag (from `flags`, which maps a
    setting to how the command line spells it) and meaning."""
    return "\n".join([
        "Defaults, overridden by `CRAWLER_*` environment variables, overridden by command-line flags or "
        "`seed()` arguments.",
        "",
        "## Process settings",
        "",
        "What each process (command, worker, beat, Flower) needs; each host may set its own.",
        "",
        *_table(public_fields(Settings), flags),
        "",
        "## Policy of a job",
        "",
        "Stored with the job when it is seeded, so every worker applies the same; a policy flag that is not "
        "given keeps the value of a job that exists.",
        "",
        *_table(public_fields(Policy), flags),
    ]) + "\n"


def _table(settings: list[dataclasses.Field[Any]], flags: Mapping[str, str]) -> list[str]:
    rows = ["| variable | default | flag | meaning |", "| --- | --- | --- | --- |"]
    for f in settings:
        listed = isinstance(_default(f), tuple)
        meaning = doc(f.name) + (" Comma-separated." if listed else "")
        cells = (f"`{variable(f.name)}`", _default_cell(f, listed), flags.get(f.name, ""), meaning)
        rows.append("| " + " | ".join(cell.replace("|", "\\|") for cell in cells) + " |")
    return rows


def _default_cell(f: dataclasses.Field[Any], listed: bool) -> str:
    """The default as a variable spells it, or what it depends on, or that there is none."""
    if f.metadata.get("shown"):
        return str(f.metadata["shown"])
    spelled = spell(_default(f))
    if spelled:
        return f"`{spelled}`"
    return "(none)" if listed else "(unset)"


def _field(name: str) -> dataclasses.Field[Any]:
    for f in public_fields(Settings, Policy):
        if f.name == name:
            return f
    raise KeyError(name)


def _default(f: dataclasses.Field[Any]) -> Any:
    if f.default_factory is not dataclasses.MISSING:
        return f.default_factory()
    return f.default
