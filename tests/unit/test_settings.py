"""Settings: defaults, then CRAWLER_* variables, then explicit overrides; bad values are
the user's mistake and must name the variable to fix."""

from __future__ import annotations

import ast
import dataclasses
import json
from pathlib import Path

import pytest

from pipeline import settings as settings_module
from pipeline.errors import ConfigError
from pipeline.settings import DEFAULT_USER_AGENT, Policy, Settings, documented


def test_defaults_match_the_design():
    settings = Settings.load(environ={})

    assert settings.redis_url == ""  # unset: `crawler crawl` embeds a Redis
    assert settings.store_url == "sqlite:///crawl.db"
    assert settings.policy == Policy()
    assert settings.policy.delay == 1.0
    assert settings.policy.host_concurrency == 1
    assert settings.policy.robots is True
    assert settings.policy.allow_private is False
    assert settings.policy.user_agent == DEFAULT_USER_AGENT


def test_default_user_agent_names_version_and_url():
    from pipeline import __version__

    assert __version__ in DEFAULT_USER_AGENT
    assert "http" in DEFAULT_USER_AGENT


def test_load_ignores_the_process_environment_when_given_a_dict(monkeypatch):
    monkeypatch.setenv("CRAWLER_MAX_DEPTH", "1")

    assert Settings.load(environ={}).policy.max_depth == Policy().max_depth
    assert Settings.load().policy.max_depth == 1


def test_environment_overrides_defaults():
    env = {
        "CRAWLER_REDIS_URL": "rediss://:secret@redis.internal:6380/2",
        "CRAWLER_STORE_URL": "sqlite:////data/crawl.db",
        "CRAWLER_WORKERS": "4",
        "CRAWLER_MAX_DEPTH": "3",
        "CRAWLER_DELAY": "0.25",
        "CRAWLER_ROBOTS": "no",
        "CRAWLER_ALLOW_PRIVATE": "TRUE",
        "CRAWLER_ALLOWED_DOMAINS": " example.org, example.net ,",
        "CRAWLER_USER_AGENT": "mybot/1.0",
    }

    settings = Settings.load(environ=env)

    assert settings.redis_url == "rediss://:secret@redis.internal:6380/2"
    assert settings.store_url == "sqlite:////data/crawl.db"
    assert settings.workers == 4
    assert settings.policy.max_depth == 3
    assert settings.policy.delay == 0.25
    assert settings.policy.robots is False
    assert settings.policy.allow_private is True
    assert settings.policy.allowed_domains == ("example.org", "example.net")
    assert settings.policy.user_agent == "mybot/1.0"


def test_variables_without_the_prefix_are_ignored():
    settings = Settings.load(environ={"MAX_DEPTH": "1", "crawler_max_depth": "2", "REDIS_URL": "redis://x/"})

    assert settings.policy.max_depth == Policy().max_depth
    assert settings.redis_url == ""


def test_overrides_beat_environment():
    env = {"CRAWLER_MAX_DEPTH": "3", "CRAWLER_DELAY": "0.25", "CRAWLER_WORKERS": "4"}

    settings = Settings.load(environ=env, max_depth=7, workers=1)

    assert settings.policy.max_depth == 7
    assert settings.workers == 1
    assert settings.policy.delay == 0.25  # not overridden: the environment stands


def test_none_override_means_not_given():
    settings = Settings.load(environ={"CRAWLER_MAX_DEPTH": "3"}, max_depth=None, delay=None)

    assert settings.policy.max_depth == 3
    assert settings.policy.delay == Policy().delay


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CRAWLER_MAX_DEPTH", "abc"),
        ("CRAWLER_MAX_DEPTH", "-1"),
        ("CRAWLER_MAX_PAGES", "1.5"),
        ("CRAWLER_DELAY", "-0.5"),
        ("CRAWLER_DELAY", "soon"),
        ("CRAWLER_ROBOTS", "maybe"),
        ("CRAWLER_WORKERS", "many"),
        ("CRAWLER_DISPATCH_WINDOW", "-3"),
    ],
)
def test_bad_environment_value_is_config_error_naming_the_variable(variable, value):
    with pytest.raises(ConfigError) as info:
        Settings.load(environ={variable: value})

    assert variable in str(info.value)
    assert value in str(info.value)


@pytest.mark.parametrize(
    ("variable", "value"),
    [
        ("CRAWLER_TIMEOUT", "nan"),  # socket.settimeout(nan) raises in every fetch
        ("CRAWLER_TIMEOUT", "0"),  # requests refuses a zero timeout with ValueError
        ("CRAWLER_DELAY", "nan"),
        ("CRAWLER_DELAY", "inf"),
    ],
)
def test_unusable_numbers_are_config_errors_naming_the_variable(variable, value):
    with pytest.raises(ConfigError) as info:
        Settings.load(environ={variable: value})

    assert variable in str(info.value)


def test_bad_override_is_config_error_naming_the_setting():
    with pytest.raises(ConfigError) as info:
        Settings.load(environ={}, max_depth="deep")

    assert "MAX_DEPTH" in str(info.value)


@pytest.mark.parametrize("name", ["max_dept", "policy", "redis"])
def test_unknown_override_is_config_error(name):
    with pytest.raises(ConfigError) as info:
        Settings.load(environ={}, **{name: 1})

    assert name in str(info.value)


def test_lease_must_outlast_a_whole_download():
    # A lease shorter than a download would hand a URL to a second worker mid-fetch.
    with pytest.raises(ConfigError) as info:
        Settings.load(environ={"CRAWLER_LEASE_TIMEOUT": "30", "CRAWLER_DOWNLOAD_DEADLINE": "60"})

    assert "CRAWLER_LEASE_TIMEOUT" in str(info.value)


def test_settings_are_frozen():
    settings = Settings.load(environ={})

    with pytest.raises(AttributeError):
        settings.redis_url = "redis://elsewhere/"  # type: ignore[misc]
    with pytest.raises(AttributeError):
        settings.policy.max_depth = 1  # type: ignore[misc]


# --- Policy ---------------------------------------------------------------------------


def test_merged_applies_changes_and_ignores_none():
    policy = Policy(max_depth=2, delay=0.5)

    merged = policy.merged(max_depth=None, delay=2.0, robots=None, allowed_domains=["a.example"])

    assert merged.max_depth == 2
    assert merged.delay == 2.0
    assert merged.robots is True
    assert merged.allowed_domains == ("a.example",)
    assert policy.delay == 0.5  # the original is untouched


def test_merged_converts_strings_like_the_environment_does():
    merged = Policy().merged(max_depth="4", robots="off", delay="0.1")

    assert (merged.max_depth, merged.robots, merged.delay) == (4, False, 0.1)


def test_merged_unknown_option_is_config_error():
    with pytest.raises(ConfigError) as info:
        Policy().merged(max_dept=3)

    assert "max_dept" in str(info.value)


def test_merged_bad_value_is_config_error():
    with pytest.raises(ConfigError):
        Policy().merged(max_pages=-1)


def test_policy_json_round_trip():
    policy = Policy(
        max_depth=2,
        delay=0.3,
        robots=False,
        allowed_domains=("example.org", "example.net"),
        scope_hosts=("seed.example",),
        user_agent="bot/2",
    )

    restored = Policy.from_json(json.loads(json.dumps(policy.to_json())))

    assert restored == policy
    assert isinstance(restored.allowed_domains, tuple)


def test_policy_from_json_ignores_fields_it_does_not_know():
    # A job written by a newer version must still load in an older worker.
    data = dict(Policy(max_depth=1).to_json(), added_later=True)

    assert Policy.from_json(data) == Policy(max_depth=1)


def test_every_setting_is_documented():
    rows = documented()
    names = [name for name, _, _ in rows]

    assert "CRAWLER_REDIS_URL" in names and "CRAWLER_STORE_URL" in names and "CRAWLER_USER_AGENT" in names
    assert len(names) == len(set(names))
    assert all(meaning.strip() for _, _, meaning in rows)
    assert ("CRAWLER_STORE_URL", "sqlite:///crawl.db") in [(n, d) for n, d, _ in rows]


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"CRAWLER_WARC_GZIP_LEVEL": "0"}, "CRAWLER_WARC_GZIP_LEVEL"),
        ({"CRAWLER_WARC_MAX_BYTES": "0"}, "CRAWLER_WARC_MAX_BYTES"),
    ],
)
def test_warc_settings_are_checked_when_loaded_not_at_the_first_fetch(variables, named):
    with pytest.raises(ConfigError, match=named):
        Settings.load(variables)


def test_a_frontier_on_a_redis_cluster_needs_a_broker_of_its_own():
    with pytest.raises(ConfigError, match="CRAWLER_BROKER_URL"):
        Settings.load(environ={"CRAWLER_REDIS_CLUSTER": "true", "CRAWLER_REDIS_URL": "redis://node:7000"})

    settings = Settings.load(environ={"CRAWLER_REDIS_CLUSTER": "true", "CRAWLER_REDIS_URL": "redis://node:7000",
                                      "CRAWLER_BROKER_URL": "amqp://guest:guest@rabbit//"})
    assert settings.redis_cluster and settings.broker_is_amqp


def test_settings_import_no_feature():
    """Features check their own settings (pipeline/crawl/context.py gathers the checks)."""
    imported: set[str] = set()
    for path in Path(settings_module.__file__).parent.glob("*.py"):
        tree = ast.parse(path.read_text(encoding="utf-8"))
        imported |= {node.module for node in ast.walk(tree) if isinstance(node, ast.ImportFrom) and node.module}
        imported |= {alias.name for node in ast.walk(tree) if isinstance(node, ast.Import) for alias in node.names}

    pipeline = {name for name in imported if name.split(".")[0] == "pipeline"}
    assert pipeline - {"pipeline", "pipeline.errors"} <= {
        f"pipeline.settings.{module}" for module in ("policy", "process", "reference", "values")}


@pytest.mark.parametrize(
    ("variables", "named"),
    [
        ({"CRAWLER_DEDUP": "bloom", "CRAWLER_BLOOM_CAPACITY": "200000000"}, "CRAWLER_BLOOM_CAPACITY"),
        ({"CRAWLER_PROXIES": "gopher://b.example:70"}, "CRAWLER_PROXIES"),
        ({"CRAWLER_WARC_UPLOAD_URL": "http://bucket/prefix"}, "CRAWLER_WARC_UPLOAD_URL"),
    ],
)
def test_a_context_is_built_only_on_settings_every_feature_accepts(variables, named):
    from pipeline.crawl.context import Context

    settings = Settings.load(variables)
    with pytest.raises(ConfigError, match=named):
        Context(settings)


def test_the_environment_of_a_child_process_gives_it_the_same_settings():
    settings = Settings.load(
        environ={"CRAWLER_REDIS_URL": "unix:///tmp/redis.sock", "CRAWLER_TASK_EVENTS": "true"},
        proxies=["http://a.example:3128", "socks5h://b.example:1080"], warc_dir="/data/warc", workers=3,
        dispatch_interval=0.25, max_depth=2,
    )

    environ = settings.to_environ()

    assert environ["CRAWLER_PROXIES"] == "http://a.example:3128,socks5h://b.example:1080"
    assert environ["CRAWLER_TASK_EVENTS"] == "true"
    assert "CRAWLER_MAX_DEPTH" not in environ  # a job's policy travels with the job
    assert Settings.load(environ=environ) == dataclasses.replace(settings, policy=Policy())


@pytest.mark.parametrize(
    ("environ", "size"),
    [
        ({}, 64),
        ({"CRAWLER_WORKER_POOL": "prefork"}, 1),
        ({"CRAWLER_WORKER_POOL": "solo"}, 1),
        ({"CRAWLER_WORKER_CONCURRENCY": "8"}, 8),
        ({"CRAWLER_WORKER_POOL": "prefork", "CRAWLER_WORKER_CONCURRENCY": "3"}, 3),
    ],
)
def test_a_crawl_workers_pool_is_sized_for_many_hosts_unless_told(environ, size):
    """Threads wait on the network for many hosts at once; a prefork child is a whole
    process, so the default does not make 64 of them."""
    assert Settings.load(environ=environ).pool_size == size


def test_a_negative_worker_concurrency_is_refused():
    with pytest.raises(ConfigError, match="CRAWLER_WORKER_CONCURRENCY"):
        Settings.load(environ={"CRAWLER_WORKER_CONCURRENCY": "-1"})
