"""Reference rankings every result is reported beside: random and 'blame the alerting service'."""

from __future__ import annotations


def random_expected(truth_service: str, services: list[str]) -> tuple[float, float]:
    """Expected (top-1, top-3) of a uniformly random ranking of `services` (exact, so no seed is needed)."""
    n = len(set(services))
    if n == 0 or truth_service not in services:
        return 0.0, 0.0
    return 1.0 / n, min(3, n) / n


def alert_service(truth_service: str, alerting: str | None) -> tuple[float, float]:
    """(top-1, top-3) of ranking only the alerting service (the naive on-call guess)."""
    hit = float(alerting is not None and alerting == truth_service)
    return hit, hit
