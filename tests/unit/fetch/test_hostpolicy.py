"""The host policy file: what a line says, which rule a host takes, and a one-line error
naming the file and the line for each way a line can be wrong."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.fetch import HostRule, for_host, parse_rules, read_rules, rule_for
from pipeline.settings import Policy

FILE = """\
# slow servers
slow.example.org  delay=5 host_concurrency=1
*.example.org     delay=0.5   # every subdomain
api.example.org   robots=off user_agent="MyBot/1.0 (+https://example.org/bot)"
127.0.0.2         host_concurrency=3 robots=on

"""


def lines(text: str = FILE) -> tuple[str, ...]:
    return tuple(rule.line() for rule in parse_rules(text, "hosts.txt"))


def test_a_file_gives_one_rule_a_line_with_only_what_it_sets():
    rules = parse_rules(FILE, "hosts.txt")

    assert rules == (
        HostRule("slow.example.org", delay=5.0, host_concurrency=1),
        HostRule("*.example.org", delay=0.5),
        HostRule("api.example.org", robots=False, user_agent="MyBot/1.0 (+https://example.org/bot)"),
        HostRule("127.0.0.2", host_concurrency=3, robots=True),
    )


def test_the_canonical_lines_parse_back_to_the_same_rules():
    assert parse_rules("\n".join(lines()), "stored") == parse_rules(FILE, "hosts.txt")


@pytest.mark.parametrize(
    ("host", "pattern"),
    [
        ("slow.example.org", "slow.example.org"),  # its own name first...
        ("a.slow.example.org", "*.example.org"),  # ...a subdomain takes the nearest *. parent
        ("www.example.org:8443", "*.example.org"),  # any port
        ("api.example.org", "api.example.org"),
        ("example.org", None),  # *.NAME is the subdomains, not NAME itself
        ("example.com", None),
        ("127.0.0.2:8080", "127.0.0.2"),
        ("127.0.0.20:8080", None),
    ],
)
def test_a_host_takes_its_own_names_rule_else_its_nearest_parents(host, pattern):
    rule = rule_for(lines(), host)

    assert (rule.pattern if rule else None) == pattern


def test_the_nearer_parent_wins_over_the_farther():
    rules = lines("*.org delay=9\n*.example.org delay=1\n")

    assert rule_for(rules, "www.example.org").delay == 1.0
    assert rule_for(rules, "www.example.net.org").delay == 9.0


def test_the_policy_for_a_host_has_its_rules_values_and_the_jobs_for_the_rest():
    policy = Policy(delay=2.0, host_concurrency=2, user_agent="JobBot", host_rules=lines())

    api = for_host(policy, "api.example.org")
    other = for_host(policy, "example.com")

    assert (api.delay, api.host_concurrency, api.robots, api.user_agent) == (
        2.0, 2, False, "MyBot/1.0 (+https://example.org/bot)")
    assert other == policy


def test_a_rule_sets_its_hosts_render_mode_and_the_rest_keep_the_jobs():
    rules = lines("app.example.org render=Always\n*.example.org render=auto delay=1\n")
    policy = Policy(render="never", host_rules=rules)

    assert parse_rules("\n".join(rules), "stored") == (
        HostRule("app.example.org", render="always"), HostRule("*.example.org", delay=1.0, render="auto"))
    assert rules[0] == "app.example.org render=always"
    assert for_host(policy, "app.example.org:8080").render == "always"
    assert for_host(policy, "www.example.org").render == "auto"
    assert for_host(policy, "example.org").render == "never"


@pytest.mark.parametrize(
    ("line", "message"),
    [
        ("example.org", "hosts.txt:2: example.org sets nothing"),
        ("example.org delay", "hosts.txt:2: expected key=value"),
        ("example.org speed=3", "hosts.txt:2: expected key=value with a key of delay, host_concurrency"),
        ("example.org delay=-1", "hosts.txt:2: delay: expected a number of seconds, got '-1'"),
        ("example.org delay=nan", "hosts.txt:2: delay: expected a number of seconds"),
        ("example.org host_concurrency=0", "hosts.txt:2: host_concurrency: expected a whole number of at least 1"),
        ("example.org robots=maybe", "hosts.txt:2: robots: expected on or off, got 'maybe'"),
        ("example.org user_agent=", "hosts.txt:2: user_agent: expected some text"),
        ("example.org render=sometimes", "hosts.txt:2: render: expected one of never, auto, always, got 'sometimes'"),
        ("example.org delay=1 delay=2", "hosts.txt:2: delay is given twice"),
        ("http://example.org/ delay=1", "hosts.txt:2: expected a host name or *.NAME, got 'http://example.org/'"),
        ("*example.org delay=1", "hosts.txt:2: expected a host name or *.NAME"),
        ('example.org user_agent="open', "hosts.txt:2: cannot be split into words"),
        ("a.example delay=2", "hosts.txt:2: a.example has a rule already"),
    ],
)
def test_a_bad_line_is_one_error_naming_the_file_and_line(line, message):
    with pytest.raises(ConfigError) as raised:
        parse_rules(f"a.example delay=1\n{line}\n", "hosts.txt")

    assert str(raised.value).startswith(message)
    assert "\n" not in str(raised.value)


def test_reading_the_file_gives_its_canonical_lines(tmp_path):
    path = tmp_path / "hosts.txt"
    path.write_text(FILE, encoding="utf-8")

    assert read_rules(str(path)) == lines()


def test_a_file_that_cannot_be_read_is_one_error_naming_it(tmp_path):
    with pytest.raises(ConfigError, match=r"host policy file .*missing.txt: cannot be read"):
        read_rules(str(tmp_path / "missing.txt"))
