"""Onset detection from spans: the moment the span durations shift most (binary segmentation).

Alerts fire some time after a fault starts (rule `for:` delays, scrape intervals), so the
instant that best separates "before" from "after" in the traces is a better split for
baseline-vs-incident comparisons than a fixed look-back from the alert.
"""

from __future__ import annotations

import math
from datetime import datetime, timezone
from itertools import repeat

import numpy as np

from lumos.tools.diagnosis_model import DEFAULT_MODEL
from lumos.tools.traces.columns import SpanColumns, log1p_list, segment_bounds
from lumos.tools.traces.spans import SpanIndex, span_columns


EARLY_FRACTION = DEFAULT_MODEL.onset.early_fraction
SIGNIFICANT = DEFAULT_MODEL.onset.span_significant


def detect_onset(
    index: SpanIndex,
    *,
    earliest: datetime,
    latest: datetime,
    step_s: float = 5.0,
    min_side_s: float = 15.0,
    early_fraction: float = EARLY_FRACTION,
    significant: float = SIGNIFICANT,
) -> tuple[datetime | None, float]:
    """The split time in [earliest, latest] with the largest multivariate shift, and its strength.

    Each (service, operation) series of log self/gap times (and of error flags, where spans
    carry a status) is standardised; a candidate split
    scores sum over series of n1*n2/n * (mean1 - mean2)^2 (a between-group sum of squares),
    divided by the number of series. Returns (None, 0.0) when there is too little data.
    """
    t0, t1 = earliest.timestamp() + min_side_s, latest.timestamp()
    if t1 <= t0:
        return None, 0.0
    prepared = _prepare(span_columns(index))
    if not prepared:
        return None, 0.0
    n_steps = int((t1 - t0) / step_s) + 1
    steps = [t0 + k * step_s for k in range(n_steps)]
    totals = _split_totals(prepared, steps, significant)
    scored = [(t, total / len(prepared)) for t, total in zip(steps, totals)]
    best = max((v for _, v in scored), default=0.0)
    if best <= 0:
        return None, 0.0
    # A fault's effects build up after it starts: take the earliest split nearly as strong as the best.
    best_t = next(t for t, v in scored if v >= early_fraction * best)
    return datetime.fromtimestamp(best_t, tz=timezone.utc), best


def _prepare(cols: SpanColumns) -> list[tuple[np.ndarray, np.ndarray]]:
    """Per series (in creation order) with 4+ points and some spread: sorted times and the
    running sums of its standardised values (the same sequential sums as summing in Python)."""
    n = len(cols.start)
    if n == 0:
        return []
    v = np.where(cols.has_remote | (cols.gap_ms > 0), cols.gap_ms, cols.self_ms)
    ng = len(cols.groups)
    with_status = np.flatnonzero(cols.status_set)
    # One value series per (service, operation), one error series where spans carry a status.
    sid = np.concatenate([cols.group, cols.group[with_status] + ng])
    t = np.concatenate([cols.start, cols.start[with_status]])
    val = np.concatenate([log1p_list(v), cols.error[with_status].astype(float)])
    pos = np.concatenate([np.arange(n) * 2, with_status * 2 + 1])
    order = np.argsort(sid, kind="stable")
    sid, t, val = sid[order], t[order], val[order]
    starts, ends = segment_bounds(sid)
    created = np.full(2 * ng, 2 * n, dtype=np.int64)
    np.minimum.at(created, np.concatenate([cols.group, cols.group[with_status] + ng]), pos)
    prepared: list[tuple[np.ndarray, np.ndarray]] = []
    for c in np.argsort(created[sid[starts]], kind="stable").tolist():
        a, b = int(starts[c]), int(ends[c])
        m = b - a
        if m < 4:
            continue
        # points.sort(): by time, then value.
        by_point = np.lexsort((val[a:b], t[a:b]))
        times, vals = t[a:b][by_point], val[a:b][by_point]
        mean = float(np.cumsum(vals)[-1]) / m
        dev = (vals - mean).tolist()
        sd = math.sqrt(float(np.cumsum(np.fromiter(map(pow, dev, repeat(2)), dtype=float, count=m))[-1]) / m)
        if sd <= 1e-9:
            continue
        cums = np.cumsum(np.r_[0.0, (vals - mean) / max(sd, 0.1)])
        prepared.append((times, cums))
    return prepared


def _split_totals(prepared: list[tuple[np.ndarray, np.ndarray]], steps: list[float], significant: float = SIGNIFICANT) -> list[float]:
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
        for k in np.nonzero(ok & (score > significant * (1.0 - 1e-9)))[0].tolist():
            m1 = int(n1[k])
            m2 = n - m1
            v1 = float(cums[m1])
            v2 = float(cums[n]) - v1
            totals[k] += max(0.0, m1 * m2 / n * (v1 / m1 - v2 / m2) ** 2 - significant)
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
