"""The frontier's Lua scripts: every change that touches several keys runs atomically
inside Redis, in one round trip, on Redis's own clock (so hosts whose clocks disagree
still keep one politeness schedule).

Each script is a file here, opened by a header that lists the keys and arguments it
touches; the helpers they share are in lib/, one file per family. The key names are
pipeline/keys.py's alone: each script is loaded behind `local NAME = KEYS[1] .. 'suffix'`
lines made from LUA_NAMES, then the whole library in LIBRARY's order (each family uses
only those before it), then the script itself.
"""

from __future__ import annotations

from importlib import resources

import redis
from redis.commands.core import Script

from pipeline.keys import LUA_NAMES

NAMES = (
    "ADD", "LEASE", "CLAIM_START", "RELEASE_HOST", "POSTPONE", "EXTEND", "COMPLETE", "TICK", "HAND_BACK",
    "REQUEUE_EXCEPT", "REVISIT", "RECRAWL", "SEEN", "SHARE",
)
# The library's families, in the order they are loaded. Every script gets all of them:
# Redis compiles a script once, and defining the helpers a script does not call costs
# it a few closures per call, as the single preamble they were split from did.
LIBRARY = ("base", "queues", "schedule", "budget", "dedup", "leases", "links", "state")


def text(name: str) -> str:
    """The file of script `name` as written."""
    return _read(f"{name.lower()}.lua")


def library_text(family: str) -> str:
    """The library file of `family` as written."""
    return _read(f"lib/{family}.lua")


def source(name: str) -> str:
    """Script `name` as Redis runs it: key names, the library, then the script itself."""
    names = "\n".join(f"local {variable} = KEYS[1] .. '{suffix}'" for variable, suffix in LUA_NAMES.items())
    return "\n".join((names, *map(library_text, LIBRARY), text(name)))


def register(client: redis.Redis) -> dict[str, Script]:
    return {name: client.register_script(source(name)) for name in NAMES}


def _read(path: str) -> str:
    return resources.files(__package__).joinpath(path).read_text(encoding="utf-8")
