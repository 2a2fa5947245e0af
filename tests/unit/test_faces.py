"""Each package's `__init__` is its face: it lists its public names in `__all__`, and
every name listed is really there (as httpx's test of its exported members keeps its
list honest)."""

from __future__ import annotations

import importlib
from pathlib import Path

import pytest

ROOT = Path(__file__).resolve().parents[2]
FACES = sorted(
    ".".join(init.relative_to(ROOT).parent.parts)
    for init in [*ROOT.joinpath("pipeline").glob("*/__init__.py"), ROOT / "tasks" / "cli" / "__init__.py"]
)


@pytest.mark.parametrize("name", FACES)
def test_a_face_lists_its_public_names_and_each_is_there(name):
    face = importlib.import_module(name)
    listed = getattr(face, "__all__", None)

    assert listed, f"{name} has no __all__"
    assert sorted(listed) == sorted(set(listed))
    assert [item for item in listed if not hasattr(face, item)] == []
