"""The README is the user's manual: it must name every setting with its real default."""

from pathlib import Path

from pipeline.settings import documented

README = (Path(__file__).parents[2] / "README.md").read_text()


def test_every_setting_is_documented_in_the_readme():
    missing = [variable for variable, _, _ in documented() if f"`{variable}`" not in README]
    assert missing == []


def test_documented_defaults_match_the_code():
    rows = {line.split("|")[1].strip(" `"): line.split("|")[2].strip() for line in README.splitlines()
            if line.startswith("| `CRAWLER_")}
    for variable, default, _ in documented():
        if default and variable not in ("CRAWLER_WORKERS",):
            assert rows[variable].strip("`").lower() == default.lower(), variable


def test_ci_runs_the_readme_test_command():
    ci = (Path(__file__).parents[2] / ".ci" / "run").read_text()
    assert "python -m pytest -q" in README and "python -m pytest -q" in ci
