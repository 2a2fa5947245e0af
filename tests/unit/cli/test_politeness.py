"""What `crawler status --job J --host HOST` says of a host's delay, and a host policy
file given as a flag checked before anything starts."""

from __future__ import annotations

import pytest

from pipeline.crawl import Choice, HostVerdict
from pipeline.errors import ConfigError
from pipeline.frontier.delays import effective
from pipeline.settings import Policy
from tasks.cli.flags import load_settings
from tasks.cli.politeness import host_lines, host_of


def test_the_host_is_taken_as_given_or_from_a_url():
    assert host_of("Example.ORG:8080") == "example.org:8080"
    assert host_of("https://www.example.org/a/b?c") == "www.example.org"


def test_an_adaptive_delay_is_shown_with_its_factor_and_last_response():
    view = effective(Policy(delay=0.1, delay_factor=2.0, user_agent="Bot"), "a.example", 0.0, 0.31)

    assert host_lines("news", view) == [
        "host a.example of job news: delay 0.62 s, from adaptive (2 x last response 0.310 s, at most 60 s)",
        "  host_concurrency 1, robots.txt obeyed, user agent 'Bot' (no rule of the host policy file)",
        "  render never, from the job's policy (--render)",
        "  last response time 0.310 s",
    ]


def test_a_rules_delay_and_a_crawl_delay_name_their_source():
    policy = Policy(delay=0.1, host_rules=("*.example delay=0.5 robots=off",))

    ruled = host_lines("j", effective(policy, "a.example", 0.0, None))
    robots = host_lines("j", effective(Policy(delay=0.1), "b.example", 2.0, None))

    assert ruled[0] == "host a.example of job j: delay 0.50 s, from host policy file (rule *.example)"
    assert "robots.txt ignored" in ruled[1] and "(rule *.example of the host policy file)" in ruled[1]
    assert robots[0] == "host b.example of job j: delay 2.00 s, from robots.txt Crawl-delay"
    assert robots[-1] == "  robots.txt Crawl-delay 2 s"


def test_the_render_mode_names_its_source_and_an_auto_hosts_verdict():
    policy = Policy(render="auto", host_rules=("app.example render=always", "*.example delay=1"))

    ruled = host_lines("j", effective(policy, "app.example", 0.0, None))
    sampled = host_lines("j", effective(policy, "b.example", 0.0, None), HostVerdict("b.example", None, "", 1))
    judged = host_lines("j", effective(policy, "c.example", 0.0, None),
                        HostVerdict("c.example", Choice.RENDER, "links 0 -> 4, text 0 -> 300 chars over 3 pages", 3))

    assert ruled[2] == "  render always, from rule app.example of the host policy file"
    assert sampled[2:] == ["  render auto, from the job's policy (--render)",
                           "  render=auto: sampling (1 pages so far)"]
    assert judged[3] == "  render=auto: pages rendered; links 0 -> 4, text 0 -> 300 chars over 3 pages"


def test_a_bad_host_policy_flag_fails_before_anything_starts(tmp_path):
    path = tmp_path / "hosts.txt"
    path.write_text("a.example host_concurrency=many\n", encoding="utf-8")

    with pytest.raises(ConfigError, match=r"hosts.txt:1: host_concurrency: expected a whole number"):
        load_settings(host_policy_file=str(path))
