"""The options of the `crawler` commands that set a setting: the policy flags, the same
for `crawl` and `seed`, and the others (`--workers`, `--proxy`...). Each takes its help
from the setting's own text in pipeline/settings/, and its dest is the setting's name,
so the settings reference can say which flag sets what."""

from __future__ import annotations

import argparse
from dataclasses import fields
from typing import Any

from pipeline.crawl import check, jobs
from pipeline.errors import ConfigError
from pipeline.settings import RENDER_MODES, SCOPES, Policy, Settings, doc, shown_default, variable

# The description of the commands that take the policy flags.
KEPT = "Policy flags that are not given keep the job's own values when the job exists."


# The flag that sets each setting, as the commands declare them (see `setting_flag`).
_FLAGS: dict[str, str] = {}


def load_settings(**overrides: Any) -> Settings:
    """This command's settings (defaults, CRAWLER_*, then `overrides`), each feature's
    checked at once: bad input fails before anything starts. An error about a value the
    user gave as a flag names the flag, not the variable it stands for."""
    try:
        settings = Settings.load(**overrides)
        check(settings)
        if overrides.get("host_policy_file"):
            jobs.host_rules(overrides["host_policy_file"])
    except ConfigError as exc:
        raise ConfigError(_as_flag(str(exc), overrides)) from None
    return settings


def _as_flag(message: str, given: dict[str, Any]) -> str:
    for setting, value in given.items():
        name = variable(setting)
        if value is not None and setting in _FLAGS and message.startswith(name):
            return _FLAGS[setting] + message[len(name):]
    return message


def policy_flags(args: argparse.Namespace) -> dict[str, Any]:
    """Only the flags that were given: the rest come from the job, CRAWLER_* or defaults."""
    given = {f.name: getattr(args, f.name, None) for f in fields(Policy)}
    return {name: tuple(value) if isinstance(value, list) else value
            for name, value in given.items() if value is not None}


def add_policy_flags(parser: argparse.ArgumentParser) -> None:
    setting_flag(parser, "--max-pages", "max_pages", type=count)
    setting_flag(parser, "--max-depth", "max_depth", type=count)
    setting_flag(parser, "--delay", "delay", type=seconds)
    setting_flag(parser, "--host-concurrency", "host_concurrency", type=positive)
    setting_flag(parser, "--timeout", "timeout", type=duration)
    setting_flag(parser, "--user-agent", "user_agent")
    setting_flag(parser, "--allow-domain", "allowed_domains", action="append", metavar="HOST")
    setting_flag(parser, "--allow-private", "allow_private", action="store_const", const=True)
    setting_flag(parser, "--no-robots", "robots", action="store_const", const=False, note="This flag turns it off.")
    setting_flag(parser, "--extract", "extract", action="append", metavar="MODULE:FUNCTION")
    setting_flag(parser, "--revisit-interval", "revisit_interval", type=seconds, metavar="SECONDS")
    setting_flag(parser, "--revisit-min", "revisit_min", type=seconds, metavar="SECONDS")
    setting_flag(parser, "--revisit-max", "revisit_max", type=seconds, metavar="SECONDS")
    setting_flag(parser, "--frontier-shards", "frontier_shards", type=positive, metavar="N")
    setting_flag(parser, "--delay-factor", "delay_factor", type=factor, metavar="FACTOR")
    setting_flag(parser, "--max-delay", "max_delay", type=seconds, metavar="SECONDS")
    setting_flag(parser, "--host-policy", "host_policy_file", metavar="FILE")
    setting_flag(parser, "--render", "render", choices=RENDER_MODES)
    setting_flag(parser, "--screenshot", "screenshot", action="store_const", const=True)
    add_scope_flags(parser)


def add_scope_flags(parser: argparse.ArgumentParser) -> None:
    """The open scope: which hosts links are followed to, how many, and which never."""
    setting_flag(parser, "--scope", "scope", choices=SCOPES)
    setting_flag(parser, "--max-hosts", "max_hosts", type=count, metavar="N")
    setting_flag(parser, "--deny-domain", "deny_domains", action="append", metavar="HOST")


def setting_flag(parser: argparse.ArgumentParser, flag: str, setting: str, note: str = "", **options: Any) -> None:
    """`flag` sets `setting`: its help is the setting's text, a `note` where the command
    line differs, and where the value comes from when the flag is not given (the job's
    policy for a job that exists, else the variable, else the built-in default)."""
    notes = [note] if note else []
    if options.get("action") == "append":
        notes.append("Repeatable.")
    default = shown_default(setting) or "none"
    text = " ".join([doc(setting), *notes])
    # argparse formats help with %: a literal one is doubled.
    help_text = f"{text} (default: {variable(setting)}, else {default})".replace("%", "%%")
    parser.add_argument(flag, dest=setting, help=help_text, **options)
    _FLAGS.setdefault(setting, flag)


def flags_of(parser: argparse.ArgumentParser) -> dict[str, str]:
    """Which flag of which commands sets each setting, in Markdown: `--delay` (crawl, seed)."""
    found: dict[str, dict[str, list[str]]] = {}
    for action in parser._actions:
        if isinstance(action, argparse._SubParsersAction):
            for command, subparser in action.choices.items():
                for option in subparser._actions:
                    if option.option_strings and _is_setting(option.dest):
                        found.setdefault(option.dest, {}).setdefault(option.option_strings[0], []).append(command)
    return {
        setting: ", ".join(f"`{flag}` ({', '.join(commands)})" for flag, commands in spelled.items())
        for setting, spelled in found.items()
    }


def _is_setting(name: str) -> bool:
    try:
        doc(name)
    except KeyError:
        return False
    return True


def count(value: str) -> int:
    """A whole number, 0 or more."""
    return _whole(value, 0)


def positive(value: str) -> int:
    """A whole number, 1 or more."""
    return _whole(value, 1)


def _whole(value: str, least: int) -> int:
    try:
        number = int(value)
    except ValueError:
        number = least - 1
    if number < least:
        raise argparse.ArgumentTypeError(f"expected a whole number of at least {least}, got {value!r}")
    return number


def duration(value: str) -> float:
    """A number of seconds above 0."""
    number = seconds(value)
    if number == 0:
        raise argparse.ArgumentTypeError(f"expected a number of seconds above 0, got {value!r}")
    return number


def seconds(value: str) -> float:
    """A non-negative number of seconds, or argparse's one-line usage error."""
    return _non_negative(value, "a number of seconds")


def factor(value: str) -> float:
    """A non-negative number (a multiplier), or argparse's one-line usage error."""
    return _non_negative(value, "a number of 0 or more")


def _non_negative(value: str, what: str) -> float:
    try:
        number = float(value)
    except ValueError:
        number = -1.0
    if not 0 <= number < float("inf"):
        raise argparse.ArgumentTypeError(f"expected {what}, got {value!r}")
    return number
