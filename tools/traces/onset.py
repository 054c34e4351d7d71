"""Onset detection from spans: the moment the span durations shift most (binary segmentation).

Alerts fire some time after a fault starts (rule `for:` delays, scrape intervals), so the
instant that best separates "before" from "after" in the traces is a better split for
baseline-vs-incident comparisons than a fixed look-back from the alert.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone

import numpy as np

from lumos.tools.traces.spans import SpanIndex, fact_starts


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
    # Series in order of creation, as a dict keyed (service, operation, kind) would hold them.
    series_order: list[list[tuple[float, float]]] = []
    groups: dict[tuple[str, str], list] = {}  # (service, operation) -> [time points, error points or None]
    log1p = math.log1p
    for f, t in zip(index.facts, fact_starts(index)):
        v = f.gap_ms if (f.gap_ms > 0 or f.remote_children) else f.self_ms
        span = f.span
        status = span.status
        g = groups.get((span.service, span.operation))
        if g is None:
            g = groups[(span.service, span.operation)] = [[], None]
            series_order.append(g[0])
        g[0].append((t, log1p(max(v, 0.0))))
        if status is not None:
            errs = g[1]
            if errs is None:
                errs = g[1] = []
                series_order.append(errs)
            errs.append((t, 1.0 if status == "ERROR" else 0.0))
    t0, t1 = earliest.timestamp() + min_side_s, latest.timestamp()
    if t1 <= t0:
        return None, 0.0
    prepared: list[tuple[list[float], list[float]]] = []
    for points in series_order:
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
    n_steps = int((t1 - t0) / step_s) + 1
    steps = [t0 + k * step_s for k in range(n_steps)]
    totals = _split_totals(prepared, steps)
    scored = [(t, total / len(prepared)) for t, total in zip(steps, totals)]
    best = max((v for _, v in scored), default=0.0)
    if best <= 0:
        return None, 0.0
    # A fault's effects build up after it starts: take the earliest split nearly as strong as the best.
    best_t = next(t for t, v in scored if v >= EARLY_FRACTION * best)
    return datetime.fromtimestamp(best_t, tz=timezone.utc), best


def _split_totals(prepared: list[tuple[list[float], list[float]]], steps: list[float]) -> list[float]:
    """Per candidate split, the sum over series of max(0, between-group score - SIGNIFICANT).

    numpy screens which (series, split) pairs can score above the threshold; only those are
    evaluated, in plain Python and in series order, so the sums are bit-identical to the
    straightforward double loop (pairs at or below the threshold add exactly 0.0).
    """
    totals = [0.0] * len(steps)
    grid = np.asarray(steps, dtype=float)
    for times, cums in prepared:
        n = len(times)
        n1 = np.searchsorted(np.asarray(times, dtype=float), grid, side="left")
        n2 = n - n1
        ok = (n1 >= 2) & (n2 >= 2)
        if not ok.any():
            continue
        c = np.asarray(cums, dtype=float)
        a = np.where(ok, n1, 1)
        b = np.where(ok, n2, 1)
        s1 = c[n1]
        d = s1 / a - (c[n] - s1) / b
        score = a * b / n * (d * d)
        # Generous margin: the exact Python value may differ from numpy's by a few ulps.
        for k in np.nonzero(ok & (score > SIGNIFICANT * (1.0 - 1e-9)))[0].tolist():
            m1 = int(n1[k])
            m2 = n - m1
            v1 = cums[m1]
            v2 = cums[n] - v1
            totals[k] += max(0.0, m1 * m2 / n * (v1 / m1 - v2 / m2) ** 2 - SIGNIFICANT)
    return totals


def _bisect(times: list[float], t: float) -> int:
    lo, hi = 0, len(times)
    while lo < hi:
        mid = (lo + hi) // 2
        if times[mid] < t:
            lo = mid + 1
        else:
            hi = mid
    return lo
