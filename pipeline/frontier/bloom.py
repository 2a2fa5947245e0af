"""The geometry of a job's Bloom filter (`dedup = "bloom"`): one Redis bitmap, sized for
a capacity and a false-positive rate, read and set by the frontier's scripts with
GETBIT/SETBIT, no module needed. A URL's k bit positions come from its fingerprint by
double hashing (Kirsch and Mitzenmacher): position i is (h1 + i * h2) mod m, with h1 and
h2 the fingerprint's two 32-bit halves, which Lua's doubles hold exactly.

At its capacity n, m = -n ln p / (ln 2)^2 bits and k = (m / n) ln 2 positions give a
false-positive rate of p: 28.8 bits (3.6 bytes) a URL at p = 1e-6. Past the capacity the
rate grows (a new URL taken for one seen is never crawled), which `crawler status` says.
"""

from __future__ import annotations

import math
from dataclasses import dataclass

from pipeline.errors import ConfigError
from pipeline.settings import DEDUP_BLOOM, Policy

# Redis strings, and so bitmaps, hold at most 512 MB: 2^32 bits.
MAX_BITS = 2**32


@dataclass(frozen=True)
class Geometry:
    bits: int
    hashes: int

    @property
    def bytes(self) -> int:
        """What the bitmap takes in Redis once its highest bits are touched (at once, in
        practice: the first URLs set bits all over it)."""
        return math.ceil(self.bits / 8)


def geometry(capacity: int, error_rate: float) -> Geometry:
    if capacity < 1 or not 0 < error_rate < 1:
        raise ConfigError("CRAWLER_BLOOM_CAPACITY must be at least 1 and CRAWLER_BLOOM_ERROR_RATE between 0 and 1")
    bits = math.ceil(-capacity * math.log(error_rate) / math.log(2) ** 2)
    if bits > MAX_BITS:
        raise ConfigError(
            f"a Bloom filter for {capacity} URLs at a false-positive rate of {error_rate:g} needs {bits} bits, "
            f"more than a Redis string holds ({MAX_BITS}): lower CRAWLER_BLOOM_CAPACITY or raise the rate"
        )
    return Geometry(bits, max(1, round(bits / capacity * math.log(2))))


def check(policy: Policy) -> None:
    """A job that remembers its URLs in a Bloom filter needs one that Redis can hold:
    refused when the policy is loaded or seeded, not at the job's first URL."""
    if policy.dedup == DEDUP_BLOOM:
        geometry(policy.bloom_capacity, policy.bloom_error_rate)


def halves(digest: bytes) -> tuple[int, int]:
    """h1 and h2 of a fingerprint; h2 is made odd, so that no two positions coincide
    for want of a step."""
    value = int.from_bytes(digest, "big")
    return value >> 32, (value & 0xFFFFFFFF) | 1
