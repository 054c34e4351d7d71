"""Memory pressure as it shows in metrics: a steady climb (a leak), a level nearing the limit.

CPU saturation and memory pressure both slow a service and both can raise its CPU (garbage
collection and paging burn CPU). What only memory pressure does is make memory itself climb
through the incident, or push it towards its limit (where the OOM killer restarts the process,
so the climb starts over: a sawtooth, where a crash loop's restarts come without the climbs).
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Iterable

import numpy as np

from lumos.tools.domain import MetricSample, TimeWindow
from lumos.tools.metrics.anomaly import metric_kind

MIN_POINTS = 4
LIMIT_HIGH_PCT = 90.0  # a memory level this close to the limit leaves no headroom
LIMIT_LOW_PCT = 70.0  # below this there is still room
DROP_SHARE = 0.8  # memory falling below this share of the previous sample was freed at once (a restart)


def _climb(times: np.ndarray, values: np.ndarray, base_level: float) -> float:
    """0-1: how steadily and how far a series climbs (rank correlation with time times the rise over
    the series relative to the baseline level, a rise of half that level counting fully)."""
    if len(values) < MIN_POINTS or base_level <= 0:
        return 0.0
    rt = np.argsort(np.argsort(times)).astype(float)
    rv = np.argsort(np.argsort(values, kind="stable"), kind="stable").astype(float)
    if rv.std() <= 0:
        return 0.0
    rho = float(np.corrcoef(rt, rv)[0, 1])
    rise = (float(values[-1]) - float(values[0])) / base_level
    return max(0.0, rho) * min(1.0, max(0.0, 2.0 * rise))


def _sawtooth(values: np.ndarray, base_level: float) -> float:
    """0-1: memory that climbs, drops (a restart frees it: the OOM killer) and climbs again. Within
    each stretch between drops the series must rise (at least two stretches), and its peaks must
    stand above the baseline level (a rise of half that level counting fully); a crash loop drops
    without the climbs."""
    if len(values) < 3 or base_level <= 0:
        return 0.0
    drops = np.flatnonzero(values[1:] < DROP_SHARE * values[:-1]) + 1
    if len(drops) == 0:
        return 0.0
    ups = total = rising = 0
    peaks = []
    for seg in np.split(values, drops):
        if len(seg) >= 2:
            steps = np.diff(seg)
            ups += int(np.count_nonzero(steps > 0))
            total += len(steps)
            rising += bool(seg[-1] > seg[0])
        peaks.append(float(seg.max()))
    if rising < 2:  # one climb then a drop is a step that ended, not a leak the restarts keep resetting
        return 0.0
    rise = (float(np.median(peaks)) - base_level) / base_level
    return (ups / total) * min(1.0, max(0.0, 2.0 * rise))


def memory_growth(samples: Iterable[MetricSample], incident: TimeWindow, baseline: TimeWindow) -> dict[str, tuple[float, str, float]]:
    """{service: (0-1 score, line, peak / baseline level)}: memory that climbs steadily through the incident window
    (from its baseline level) or, for percentage series, rises from below 70% to 90% or more."""
    series: dict[tuple[str, str, str | None], list[tuple[float, float]]] = defaultdict(list)
    for s in samples:
        if metric_kind(s.metric)[0] == "memory" and not (s.instance and "->" in s.instance):
            series[(s.service, s.metric, s.instance)].append((s.ts.timestamp(), s.value))
    i0, i1 = incident.start.timestamp(), incident.end.timestamp()
    b0, b1 = baseline.start.timestamp(), baseline.end.timestamp()
    out: dict[str, tuple[float, str, float]] = {}
    for (svc, metric, inst), points in series.items():
        points.sort()
        base = [v for t, v in points if b0 <= t < b1]
        inc = [(t, v) for t, v in points if i0 <= t < i1]
        if not base or not inc:
            continue
        level = float(np.median(base))
        t = np.array([p[0] for p in inc])
        v = np.array([p[1] for p in inc])
        # Judged within the incident only: a leak keeps climbing, while a step to a new plateau
        # (a stress tool's allocation, a cache warming up) does not.
        steady, saw = _climb(t, v, level), _sawtooth(v[np.argsort(t, kind="stable")], level)
        climb = max(steady, saw)
        limit = 0.0
        if metric.endswith("_pct") or "percent" in metric:
            peak = float(v.max())
            if level < LIMIT_LOW_PCT and peak >= LIMIT_HIGH_PCT:
                limit = min(1.0, (peak - LIMIT_LOW_PCT) / (100.0 - LIMIT_LOW_PCT))
        score = max(climb, limit)
        if score <= 0 or score <= out.get(svc, (0.0, "", 1.0))[0]:
            continue
        where = f" [{inst}]" if inst else ""
        what = (f"climbs steadily {level:.4g} -> {float(v[-1]):.4g}" if steady >= saw
                else f"climbs from {level:.4g} to {float(v.max()):.4g}, drops (a restart) and climbs again")
        what = what if climb >= limit else f"nears its limit: {level:.4g}% -> {float(v.max()):.4g}%"
        out[svc] = (round(score, 4), f"{metric}{where} {what}", float(v.max()) / level if level > 0 else 1.0)
    return out
