"""The frontier's names hold what other code relies on: a limit is named like the
policy field that sets it (`crawler status` tells users which variable to raise), and
every script has its file, every file its script."""

from __future__ import annotations

from dataclasses import fields
from importlib import resources

from pipeline.frontier import lua
from pipeline.frontier.names import HOST_LIMITS, Limit, Script
from pipeline.settings import Policy


def test_every_limit_is_named_like_its_policy_field():
    assert set(Limit) <= {field.name for field in fields(Policy)}
    assert set(HOST_LIMITS) <= set(Limit)


def test_every_script_has_its_file_and_every_file_its_script():
    files = {entry.name for entry in resources.files(lua).iterdir() if entry.name.endswith(".lua")}

    assert files == {f"{script}.lua" for script in Script}
