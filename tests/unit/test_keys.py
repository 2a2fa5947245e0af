"""Key names: one job's keys share a Redis Cluster hash tag, and job names cannot break
out of their namespace."""

from __future__ import annotations

import pytest

from pipeline import keys
from pipeline.errors import ConfigError


def hash_tag(key: str) -> str:
    """The part of a key Redis Cluster hashes: between the first '{' and the next '}'."""
    start = key.index("{")
    return key[start + 1 : key.index("}", start)]


@pytest.mark.parametrize("job", ["example", "job-1", "a.b_c", "X" * 64, "0"])
def test_plain_job_names_are_accepted(job):
    assert keys.check_job_name(job) == job


@pytest.mark.parametrize(
    "job", ["", "a b", "a:b", "a{b}", "../etc", "-leading-dash", "X" * 65, "job\n", "naïve", None, 3]
)
def test_job_names_that_could_break_keys_are_refused(job):
    with pytest.raises(ConfigError):
        keys.check_job_name(job)


def test_every_key_of_a_job_is_in_one_cluster_slot():
    job = keys.JobKeys("news.site-1")
    names = [job.key(suffix) for suffix in keys.LUA_NAMES.values()]
    names += [job.queue(3, "example.com:8080"), job.queue_depths("example.com:8080"), job.legacy_queue("a.example")]
    names += [job.robots("example.com"), job.robots_lock("example.com")]

    assert {hash_tag(name) for name in names} == {"news.site-1"}


def test_jobs_do_not_share_keys():
    one, two = keys.JobKeys("one"), keys.JobKeys("two")

    assert one.key(keys.SEEN) != two.key(keys.SEEN)
    assert not one.prefix.startswith(two.prefix) and not two.prefix.startswith(one.prefix)


def test_every_key_is_namespaced():
    job = keys.JobKeys("j")

    assert job.key(keys.SEEN).startswith(keys.ROOT + ":")
    assert keys.JOBS.startswith(keys.ROOT + ":")
    assert keys.DISPATCH_LOCK.startswith(keys.ROOT + ":")
