"""The Lua scripts' headers are their contract: each must list exactly the keys and
parameters the script touches, those of the library helpers it calls included, so a
reader (or a Redis Cluster operator) can trust them without reading the code. The
library's files must list what they define, and use only what is defined before them;
and the names Python shares with the scripts (job states, stats fields) are spelled in
pipeline/frontier/names.py alone."""

from __future__ import annotations

import re

import pytest

from pipeline.frontier import lua
from pipeline.frontier.names import JobState, Script, Stat
from pipeline.keys import LUA_NAMES

KEY_VARIABLE = re.compile(r"\b(" + "|".join(sorted(LUA_NAMES, key=len, reverse=True)) + r")\b")
PARAMETER = re.compile(r"\bA\.(\w+)")
# A helper: one line ending in `end`, or lines up to an `end` at the start of a line.
_PER_KEY = {"SEEN": "BUCKET", "QUEUE": "DEPTH:HOST"}
FUNCTION = re.compile(r"^local function (\w+)\((?:[^\n]* end|.*?\nend)$", re.S | re.M)


def code(source: str) -> str:
    """The source without its comments."""
    return re.sub(r"--.*", "", source)


def helpers() -> tuple[dict[str, str], str]:
    """The library's functions by name, and its code outside them (run by every script)."""
    library = "\n".join(code(lua.library_text(family)) for family in lua.LIBRARY)
    functions = {match.group(1): match.group(0) for match in FUNCTION.finditer(library)}
    return functions, FUNCTION.sub("", library)


def reached(body: str, functions: dict[str, str]) -> str:
    """`body` and every helper it calls, directly or through other helpers."""
    seen: set[str] = set()
    pending = [body]
    while pending:
        text = pending.pop()
        for name, definition in functions.items():
            if name not in seen and re.search(rf"\b{name}\(", text):
                seen.add(name)
                pending.append(definition)
    return body + "".join(functions[name] for name in seen)


def used(name: str) -> tuple[set[str], set[str]]:
    functions, top = helpers()
    text = reached(top + code(lua.text(name)), functions)
    # A key per host (rq:HOST) is listed with HOST after its prefix, a seen set with BUCKET,
    # a list of new URLs with DEPTH:HOST.
    suffixes = {LUA_NAMES[v] + _PER_KEY.get(v, "HOST" if LUA_NAMES[v].endswith(":") else "")
                for v in KEY_VARIABLE.findall(text)}
    return suffixes, set(PARAMETER.findall(text))


def header(name: str) -> tuple[set[str], set[str]]:
    """The keys and ARGV[1] fields the header lists: the first word of each entry (a line
    indented by three spaces; deeper ones continue the entry above) under its `Keys:`
    and `ARGV[1]` lines."""
    keys: set[str] = set()
    parameters: set[str] = set()
    section: set[str] | None = None
    for line in lua.text(name).splitlines():
        if not line.startswith("--"):
            break
        if line.startswith("-- Keys:"):
            section = keys
        elif line.startswith("-- ARGV[1]"):
            section = parameters
        elif re.match(r"--   \S", line) and section is not None:
            section.add(line.split()[1])
        elif line.startswith("--    "):
            continue
        else:
            section = None
    return keys, parameters


@pytest.mark.parametrize("name", Script)
def test_the_header_lists_every_key_the_script_touches(name):
    assert header(name)[0] == used(name)[0]


@pytest.mark.parametrize("name", Script)
def test_the_header_lists_every_parameter_the_script_reads(name):
    assert header(name)[1] == used(name)[1]


def test_the_check_would_catch_a_helper_that_touches_an_unlisted_key():
    functions = {"inner": "local function inner()\n  redis.call('GET', SEEN)\nend",
                 "outer": "local function outer()\n  inner()\nend"}

    assert "SEEN" in KEY_VARIABLE.findall(reached("outer()", functions))


def test_every_script_declares_the_job_prefix_as_its_one_key():
    for name in Script:
        source = lua.source(name)
        assert "ARGV[1] .." not in source
        assert all(f"local {variable} = KEYS[1] .. '{suffix}'" in source for variable, suffix in LUA_NAMES.items())


DEFINED = re.compile(r"^local (?:function )?(\w+)", re.M)
# A definition at the start of a line, up to the next one.
DEFINITION = re.compile(r"^local (?:function )?(\w+)(.*?)(?=^local |\Z)", re.S | re.M)


@pytest.mark.parametrize("family", lua.LIBRARY)
def test_each_library_file_lists_what_it_defines(family):
    source = lua.library_text(family)
    listed = re.search(r"^-- Defines: (.*)$", source, re.M)

    assert listed is not None
    assert listed.group(1).split(", ") == DEFINED.findall(code(source))


def test_each_library_helper_calls_only_helpers_loaded_before_it():
    every = {name for family in lua.LIBRARY for name in DEFINED.findall(code(lua.library_text(family)))}
    defined: set[str] = set()
    for family in lua.LIBRARY:
        for name, body in DEFINITION.findall(code(lua.library_text(family))):
            called = {callee for callee in re.findall(r"\b(\w+)\(", body) if callee in every}
            assert called <= defined, f"{family}.lua: {name} calls {called - defined} before they are defined"
            defined.add(name)


def every_file() -> dict[str, str]:
    """Each Lua file's code without its comments, by name."""
    files = {f"{script}.lua": lua.text(script) for script in Script}
    files.update({f"lib/{family}.lua": lua.library_text(family) for family in lua.LIBRARY})
    return {name: code(source) for name, source in files.items()}


@pytest.mark.parametrize("name", [*JobState, *Stat])
def test_no_lua_file_spells_a_name_the_enums_own(name):
    assert [path for path, source in every_file().items() if f"'{name}'" in source or f'"{name}"' in source] == []


def test_every_shared_name_a_script_uses_is_given_to_it():
    used = {name for source in every_file().values() for name in re.findall(r"\b(?:STATE|STAT)_\w+", source)}

    assert used <= set(lua.CONSTANTS)


def test_the_shared_names_clash_with_no_key_name_or_helper():
    helpers_defined = {name for family in lua.LIBRARY for name in DEFINED.findall(code(lua.library_text(family)))}

    assert not set(lua.CONSTANTS) & (set(LUA_NAMES) | helpers_defined)


def test_every_script_is_given_the_shared_names():
    for name in Script:
        assert all(f"local {constant} = '{value}'" in lua.source(name) for constant, value in lua.CONSTANTS.items())
