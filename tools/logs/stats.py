"""Small statistical tests for comparing counts between an incident and a baseline window.

Counts of log lines are modelled as Poisson with a rate estimated from the baseline, with a
Gamma(prior) smoothing so that an empty or short baseline does not make every line look
infinitely surprising. Strength is reported as -log10(p), capped: 2 = p 1%, 6 = p 1e-6.
"""

from __future__ import annotations

import math

MAX_STRENGTH = 12.0


def poisson_sf(k: int, lam: float) -> float:
    """P(X >= k) for X ~ Poisson(lam)."""
    if k <= 0:
        return 1.0
    if lam <= 0:
        return 0.0
    return 1.0 - poisson_cdf(k - 1, lam)


def poisson_cdf(k: int, lam: float) -> float:
    """P(X <= k) for X ~ Poisson(lam), summed in log space (stable for large lam)."""
    if k < 0:
        return 0.0
    if lam <= 0:
        return 1.0
    if lam > 50 and k > 50:
        # normal approximation with continuity correction is plenty at this size
        z = (k + 0.5 - lam) / math.sqrt(lam)
        return 0.5 * math.erfc(-z / math.sqrt(2))
    log_term = -lam
    total = math.exp(log_term)
    for i in range(1, k + 1):
        log_term += math.log(lam) - math.log(i)
        total += math.exp(log_term)
        if total >= 1.0:
            return 1.0
    return min(total, 1.0)


def strength(p: float) -> float:
    """-log10(p), capped at MAX_STRENGTH; 0 for p >= 1."""
    if p <= 0:
        return MAX_STRENGTH
    return min(MAX_STRENGTH, max(0.0, -math.log10(p)))


def expected_count(ref_count: float, ref_seconds: float, cur_seconds: float, *, prior_rate: float, prior_seconds: float) -> float:
    """Expected count in the current window from the reference rate, smoothed by a prior rate
    worth `prior_seconds` of observation (a Gamma prior on the Poisson rate)."""
    rate = (ref_count + prior_rate * prior_seconds) / (ref_seconds + prior_seconds)
    return rate * cur_seconds


def increase_strength(count: int, expected: float) -> float:
    """Strength of evidence that `count` is above what `expected` predicts (upper tail)."""
    if count <= expected:
        return 0.0
    return strength(poisson_sf(count, max(expected, 1e-9)))


def decrease_strength(count: int, expected: float) -> float:
    """Strength of evidence that `count` is below what `expected` predicts (lower tail)."""
    if count >= expected:
        return 0.0
    return strength(poisson_cdf(count, expected))


def squash(total_strength: float, scale: float = 6.0) -> float:
    """Map an unbounded evidence strength to 0-1 (scale = strength that gives ~0.63)."""
    return 1.0 - math.exp(-max(total_strength, 0.0) / scale)
