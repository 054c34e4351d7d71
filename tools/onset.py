"""Where the incident starts, found in the data rather than assumed from the alert.

Alerts fire minutes after a fault starts (rule `for:` clauses, scrape and rate windows, a human
noticing), so a window opened a fixed time before the alert mixes fault-free and faulty data or
misses the onset entirely. The onset is the time that best splits the telemetry into a before and
an after: in the traces when there are enough spans (fine-grained), else in the metric series.
The search runs from `max_alert_delay_s` before the alert to shortly after it.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass
from datetime import datetime, timedelta, timezone

import numpy as np

from lumos.tools.diagnosis_model import DEFAULT_MODEL, OnsetWeights
from lumos.tools.domain import MetricSample, TimeWindow
from lumos.tools.traces.onset import detect_onset
from lumos.tools.traces.spans import SpanIndex, span_columns

MIN_SPANS = 20
MIN_SIDE_S = 15.0
MIN_SERIES_POINTS = 4
AFTER_ALERT_S = 60.0  # an alert stamped a little early (clock skew, a rule evaluated at the boundary)


@dataclass(frozen=True)
class OnsetEstimate:
    """The onset found in the data (None: the data cannot tell), where it was found, and how strongly."""

    time: datetime | None
    source: str
    strength: float = 0.0


def metric_onset(
    metrics: Sequence[MetricSample], earliest: datetime, latest: datetime, w: OnsetWeights = DEFAULT_MODEL.onset
) -> tuple[datetime | None, float]:
    """The sample time in [earliest, latest] where the metric series shift most: per series, the F
    statistic of a two-segment mean split; summed over series of max(0, F - significant). (None, 0)
    without such a split.

    A sample stamped t summarises [t, t + step), so the split 'before sample k' dates the onset at
    sample k's stamp. Both sides need two samples or more.
    """
    groups: dict[tuple[str, str, str | None], list[tuple[float, float]]] = defaultdict(list)
    for m in metrics:
        if math.isfinite(m.value):
            groups[(m.service, m.metric, m.instance)].append((m.ts.timestamp(), m.value))
    lo, hi = earliest.timestamp(), latest.timestamp()
    totals: dict[float, float] = defaultdict(float)
    for points in groups.values():
        if len(points) < MIN_SERIES_POINTS:
            continue
        points.sort()
        t = np.array([p[0] for p in points])
        v = np.array([p[1] for p in points])
        sd = float(v.std())
        if sd <= 1e-12:
            continue
        z = (v - v.mean()) / sd
        n = len(z)
        cums = np.concatenate([[0.0], np.cumsum(z)])
        for k in range(1, n - 1):
            if not lo <= t[k] <= hi:
                continue
            m1, m2 = cums[k] / k, (cums[n] - cums[k]) / (n - k)
            explained = k * (n - k) / n * (m1 - m2) ** 2 / n  # share of the variance the split explains
            f_stat = (n - 2) * explained / max(1e-9, 1.0 - explained)
            if f_stat > w.metric_significant:
                totals[float(t[k])] += f_stat - w.metric_significant
    if not totals:
        return None, 0.0
    best = max(totals.values())
    first = min(ts for ts, v in totals.items() if v >= w.metric_early_fraction * best)
    return datetime.fromtimestamp(first, tz=timezone.utc), best / max(1, len(groups))


def find_onset(
    *,
    alert_time: datetime,
    data_window: TimeWindow | None,
    index: SpanIndex | None,
    metrics: Sequence[MetricSample],
    w: OnsetWeights = DEFAULT_MODEL.onset,
) -> OnsetEstimate:
    """The incident's onset from traces (when there are enough spans) or metrics, searched between
    `max_alert_delay_s` before the alert and a minute after it (inside the recorded data)."""
    earliest = alert_time - timedelta(seconds=w.max_alert_delay_s)
    latest = alert_time + timedelta(seconds=AFTER_ALERT_S)
    if data_window is not None:
        earliest, latest = max(earliest, data_window.start), min(latest, data_window.end)
    if index is not None and len(index) >= MIN_SPANS:
        starts = span_columns(index).start
        first = datetime.fromtimestamp(float(starts.min()), tz=timezone.utc)
        last = datetime.fromtimestamp(float(starts.max()), tz=timezone.utc)
        lo = max(earliest, first)
        hi = min(latest, last - timedelta(seconds=MIN_SIDE_S))
        if hi > lo:
            onset, strength = detect_onset(index, earliest=lo - timedelta(seconds=MIN_SIDE_S), latest=hi, min_side_s=MIN_SIDE_S,
                                           early_fraction=w.early_fraction, significant=w.span_significant)
            if onset is not None:
                return OnsetEstimate(time=onset, source="spans", strength=strength)
    if metrics:
        onset, strength = metric_onset(metrics, earliest, latest, w)
        if onset is not None:
            return OnsetEstimate(time=onset, source="metrics", strength=strength)
    return OnsetEstimate(time=None, source="alert")
