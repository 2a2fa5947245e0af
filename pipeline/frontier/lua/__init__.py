"""The frontier's Lua scripts: every change that touches several keys runs atomically
inside Redis, in one round trip, on Redis's own clock (so hosts whose clocks disagree
still keep one politeness schedule).

Each script is a file here, opened by a header that lists the keys and arguments it
touches; the helpers they share are in preamble.lua. The key names are pipeline/keys.py's
alone: each script is loaded behind `local NAME = KEYS[1] .. 'suffix'` lines made from
LUA_NAMES, then the preamble.
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
PREAMBLE = "preamble"


def text(name: str) -> str:
    """The file of script `name` (or of the preamble) as written."""
    return resources.files(__package__).joinpath(f"{name.lower()}.lua").read_text(encoding="utf-8")


def source(name: str) -> str:
    """Script `name` as Redis runs it: key names, preamble, then the script itself."""
    names = "\n".join(f"local {variable} = KEYS[1] .. '{suffix}'" for variable, suffix in LUA_NAMES.items())
    return "\n".join((names, text(PREAMBLE), text(name)))


def register(client: redis.Redis) -> dict[str, Script]:
    return {name: client.register_script(source(name)) for name in NAMES}
