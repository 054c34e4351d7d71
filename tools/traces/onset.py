"""Onset detection from spans: the moment the span durations shift most (binary segmentation).

Alerts fire some time after a fault starts (rule `for:` delays, scrape intervals), so the
instant that best separates "before" from "after" in the traces is a better split for
baseline-vs-incident comparisons than a fixed look-back from the alert.
"""

from __future__ import annotations

import math
from collections import defaultdict
from datetime import datetime, timezone

from lumos.tools.traces.spans import SpanIndex


EARLY_FRACTION = 0.7
SIGNIFICANT = 9.0


def detect_onset(
    index: SpanIndex,
    *,
    earliest: datetime,
    latest: datetime,
    step_s: float = 5.0,
    min_side_s: float = 15.0,
) -> tuple[datetime | None, float]:
    """The split time in [earliest, latest] with the largest multivariate shift, and its strength.

    Each (service, operation) series of log self/gap times (and of error flags, where spans
    carry a status) is standardised; a candidate split
    scores sum over series of n1*n2/n * (mean1 - mean2)^2 (a between-group sum of squares),
    divided by the number of series. Returns (None, 0.0) when there is too little data.
    """
    series: dict[tuple[str, str, str], list[tuple[float, float]]] = defaultdict(list)
    for f in index.facts:
        v = f.gap_ms if (f.gap_ms > 0 or f.remote_children) else f.self_ms
        t = f.span.start.timestamp()
        series[(f.span.service, f.span.operation, "time")].append((t, math.log1p(max(v, 0.0))))
        if f.span.status is not None:
            series[(f.span.service, f.span.operation, "error")].append((t, 1.0 if f.span.status == "ERROR" else 0.0))
    t0, t1 = earliest.timestamp() + min_side_s, latest.timestamp()
    if t1 <= t0:
        return None, 0.0
    prepared: list[tuple[list[float], list[float]]] = []
    for points in series.values():
        if len(points) < 4:
            continue
        points.sort()
        vals = [v for _, v in points]
        mean = sum(vals) / len(vals)
        sd = math.sqrt(sum((v - mean) ** 2 for v in vals) / len(vals))
        if sd <= 1e-9:
            continue
        times = [t for t, _ in points]
        cums = [0.0]
        for v in vals:
            cums.append(cums[-1] + (v - mean) / max(sd, 0.1))
        prepared.append((times, cums))
    if not prepared:
        return None, 0.0
    scored: list[tuple[float, float]] = []
    n_steps = int((t1 - t0) / step_s) + 1
    for k in range(n_steps):
        t = t0 + k * step_s
        total = 0.0
        for times, cums in prepared:
            n = len(times)
            n1 = _bisect(times, t)
            n2 = n - n1
            if n1 < 2 or n2 < 2:
                continue
            s1 = cums[n1]
            s2 = cums[n] - s1
            # Under no change this is ~chi-square(1); only clear shifts (beyond 3 sigma) count.
            total += max(0.0, n1 * n2 / n * (s1 / n1 - s2 / n2) ** 2 - SIGNIFICANT)
        scored.append((t, total / len(prepared)))
    best = max((v for _, v in scored), default=0.0)
    if best <= 0:
        return None, 0.0
    # A fault's effects build up after it starts: take the earliest split nearly as strong as the best.
    best_t = next(t for t, v in scored if v >= EARLY_FRACTION * best)
    return datetime.fromtimestamp(best_t, tz=timezone.utc), best


def _bisect(times: list[float], t: float) -> int:
    lo, hi = 0, len(times)
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo
