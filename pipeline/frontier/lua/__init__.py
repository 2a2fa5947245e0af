"""The frontier's Lua scripts: every change that touches several keys runs atomically
inside Redis, in one round trip, on Redis's own clock (so hosts whose clocks disagree
still keep one politeness schedule).

Each script is a file here, opened by a header that lists the keys and arguments it
touches; the helpers they share are in lib/, one file per family. The names are
Python's alone: each script is loaded behind `local NAME = KEYS[1] .. 'suffix'` lines
made from pipeline/keys.py's LUA_NAMES and `local STATE_RUNNING = 'running'` lines made
from pipeline/frontier/names.py (CONSTANTS), then the whole library in LIBRARY's order
(each family uses only those before it), then the script itself.
"""

from __future__ import annotations

from importlib import resources

import redis
from redis.commands.core import Script as RedisScript

from pipeline.frontier.names import SITEMAP_PREFIX, STALE_POLICY, JobState, Script, Stat
from pipeline.keys import LUA_NAMES

# The library's families, in the order they are loaded. Every script gets all of them:
# Redis compiles a script once, and the helpers a script does not call cost it only a
# few closures made per call, where choosing per script would need each one's needs.
LIBRARY = ("base", "queues", "schedule", "budget", "dedup", "leases", "links", "state")
# The names the scripts share with the Python code, as Lua constants.
CONSTANTS = {
    **{f"STATE_{state.name}": state.value for state in JobState},
    **{f"STAT_{stat.name}": stat.value for stat in Stat},
    "STALE_POLICY": STALE_POLICY,
    "SITEMAP_PREFIX": SITEMAP_PREFIX,
}


def text(script: Script) -> str:
    """The file of `script` as written."""
    return _read(f"{script}.lua")


def library_text(family: str) -> str:
    """The library file of `family` as written."""
    return _read(f"lib/{family}.lua")


def source(script: Script) -> str:
    """`script` as Redis runs it: key names, shared names, the library, then the script itself."""
    names = [f"local {variable} = KEYS[1] .. '{suffix}'" for variable, suffix in LUA_NAMES.items()]
    names += [f"local {constant} = '{value}'" for constant, value in CONSTANTS.items()]
    return "\n".join((*names, *map(library_text, LIBRARY), text(script)))


def register(client: redis.Redis) -> dict[Script, RedisScript]:
    return {script: client.register_script(source(script)) for script in Script}


def _read(path: str) -> str:
    return resources.files(__package__).joinpath(path).read_text(encoding="utf-8")
