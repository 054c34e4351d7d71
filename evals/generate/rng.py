"""Seeded randomness and formatting helpers: every random stream is derived from the seed by name."""

from __future__ import annotations

import hashlib
import random
from datetime import datetime


def sub_rng(seed: int, *keys: object) -> random.Random:
    """A Random seeded from `seed` and `keys` (sha256, so independent of PYTHONHASHSEED)."""
    digest = hashlib.sha256(repr((seed, *keys)).encode()).digest()
    return random.Random(int.from_bytes(digest[:8], "big"))


def hex_id(rng: random.Random, digits: int) -> str:
    """A random lowercase hex string of `digits` characters."""
    return f"{rng.getrandbits(digits * 4):0{digits}x}"


def ts_ms(value: datetime) -> str:
    """RFC 3339 UTC with milliseconds: 2025-03-04T10:15:02.123Z."""
    return value.strftime("%Y-%m-%dT%H:%M:%S.") + f"{value.microsecond // 1000:03d}Z"


def ts_s(value: datetime) -> str:
    """RFC 3339 UTC to the second: 2025-03-04T10:15:02Z."""
    return value.strftime("%Y-%m-%dT%H:%M:%SZ")


def lognormal(rng: random.Random, median: float, sigma: float) -> float:
    """A log-normal draw with the given median (durations are long-tailed)."""
    return median * rng.lognormvariate(0.0, sigma)
