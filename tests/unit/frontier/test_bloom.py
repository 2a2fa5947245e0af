"""The Bloom filter's geometry: the size the README promises for a capacity and a rate,
and the limits it refuses with a message."""

from __future__ import annotations

import pytest

from pipeline.errors import ConfigError
from pipeline.frontier.bloom import MAX_BITS, check, geometry, halves
from pipeline.settings import Policy
from pipeline.urls import fingerprint


def test_a_filter_at_one_in_a_million_costs_under_four_bytes_a_url():
    shape = geometry(10_000_000, 1e-6)

    assert shape.bytes / 10_000_000 < 3.6 and shape.hashes == 20


def test_a_filter_larger_than_a_redis_string_is_refused_with_what_to_change():
    assert geometry(140_000_000, 1e-6).bits <= MAX_BITS
    with pytest.raises(ConfigError, match="CRAWLER_BLOOM_CAPACITY"):
        geometry(200_000_000, 1e-6)
    with pytest.raises(ConfigError, match="CRAWLER_BLOOM_ERROR_RATE"):
        check(Policy(dedup="bloom", bloom_error_rate=1.5))
    check(Policy(dedup="exact", bloom_capacity=200_000_000))


def test_the_two_halves_of_a_fingerprint_step_through_distinct_bits():
    first, step = halves(fingerprint("http://example.com/"))

    assert 0 <= first < 2**32 and step % 2 == 1
    assert len({(first + i * step) % 1_000_003 for i in range(20)}) == 20


def test_an_unknown_dedup_mode_is_refused():
    with pytest.raises(ConfigError, match="CRAWLER_DEDUP must be one of exact, bloom"):
        Policy(dedup="fuzzy")
