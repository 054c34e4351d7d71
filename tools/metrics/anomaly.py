"""Anomaly scoring of metric series: incident window against the fault-free baseline before it.

Each series (service, metric, instance) is scored by how far its incident values move, in the
direction that is bad for that kind of metric, measured in units of the baseline's robust
spread (floored relative to the baseline level, so flat series do not explode).
"""

from __future__ import annotations

import math
import re
from collections import defaultdict
from collections.abc import Iterable, Sequence
from datetime import datetime

from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.domain import MetricSample, TimeWindow

# metric-name fragment -> (kind, bad direction: +1 up is bad, -1 down is bad, 0 either way).
# The first fragment found in the name wins, so the more specific ones come first.
_KINDS: tuple[tuple[str, str, int], ...] = (
    ("edge_gap", "edge_gap", 1),
    ("node_cpu", "node_cpu", 1),
    ("node_memory", "node_memory", 1),
    ("node_network", "node_network", 0),
    ("restart", "restarts", 1),
    ("oom", "memory", 1),
    ("cpu", "cpu", 1),
    ("memory", "memory", 1),
    ("mem_", "memory", 1),
    ("heap", "memory", 1),
    ("client_call_latency", "client_latency", 1),
    ("client_latency", "client_latency", 1),
    ("call_latency", "call_latency", 1),
    ("latency", "latency", 1),
    ("duration", "latency", 1),
    ("error", "errors", 1),
    ("fail", "errors", 1),
    ("5xx", "errors", 1),
    ("success_rate", "errors", -1),
    ("availability", "errors", -1),
    ("disk", "disk", 1),
    ("filesystem", "disk", 1),
    ("connection", "pool", 1),
    ("pool", "pool", 1),
    ("thread", "pool", 1),
    ("request", "traffic", 0),
    ("throughput", "traffic", 0),
    ("workload", "traffic", 0),
    ("qps", "traffic", 0),
    ("packet", "network", 0),
    ("network", "network", 0),
    ("syscall", "syscall", 0),
)


_WORDS_RE = re.compile(r"[^a-z0-9]+")


def metric_kind(metric: str) -> tuple[str, int]:
    """Classify a metric name by the first known fragment it contains: (kind, bad direction).
    Unknown names are ('other', 0)."""
    name = metric.lower()
    for fragment, kind, direction in _KINDS:
        if fragment in name:
            return kind, direction
    if "mem" in _WORDS_RE.split(name):  # `mem`, `svc_mem`, `mem-usage`; not memcached, member
        return "memory", 1
    return "other", 0


class MetricAnomaly(BaseModel):
    """How anomalous one metric series is in the incident window compared with its baseline."""

    model_config = ConfigDict(frozen=True)

    service: str
    metric: str
    instance: str | None = None
    kind: str = Field(description="cpu, memory, latency, client_latency, call_latency, edge_gap, errors, traffic, network, ...")
    z: float = Field(description="Signed shift in baseline-spread units (positive = in the bad direction).")
    baseline: float = Field(description="Median baseline value.")
    incident: float = Field(description="Mean incident value.")
    ratio: float = Field(description="incident / baseline (inf-safe).")
    score: float = Field(ge=0.0, le=1.0, description="0-1 anomaly score derived from z.")


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def z_to_score(z: float, scale: float = 8.0) -> float:
    """Map a shift z (>= 0 is anomalous) to a 0-1 score; z = scale gives 0.5."""
    return 0.0 if z <= 0 else z / (z + scale)


def _step_seconds(times: Sequence[datetime]) -> float:
    """The typical spacing of a series' samples (0 when it cannot be told)."""
    ts = sorted({t.timestamp() for t in times})
    if len(ts) < 2:
        return 0.0
    return _median([b - a for a, b in zip(ts, ts[1:])])


def score_series(
    samples: Sequence[MetricSample],
    incident: TimeWindow,
    baseline: TimeWindow,
    *,
    rel_floor: float = 0.1,
) -> MetricAnomaly | None:
    """Score one series (all samples share service, metric, instance). None without data on both sides.

    A sample stamped at t is taken to summarise [t, t + step): it is incident data when most of
    that interval lies at or after the incident start, baseline data otherwise (if it starts
    inside the baseline window).
    """
    if not samples:
        return None
    step = _step_seconds([s.ts for s in samples])
    inc_start, inc_end = incident.start.timestamp(), incident.end.timestamp()
    base_start, base_end = baseline.start.timestamp(), baseline.end.timestamp()
    base: list[float] = []
    inc: list[float] = []
    for s in samples:
        if not math.isfinite(s.value):
            continue
        t = s.ts.timestamp()
        # The share of the sample's interval that lies before the incident decides its side.
        before = (inc_start - t) / step if step > 0 else (1.0 if t < inc_start else 0.0)
        if before < 0.5 and t < inc_end:
            inc.append(s.value)
        elif base_start <= t and t < base_end:
            base.append(s.value)
    if not base or not inc:
        return None
    first = samples[0]
    kind, direction = metric_kind(first.metric)
    abs_floor = 1e-3
    if kind == "errors" and direction < 0 and first.metric.endswith("_pct"):
        # Availability / success in percent: score the failing share, with a 0.1-point noise floor.
        base = [100.0 - v for v in base]
        inc = [100.0 - v for v in inc]
        direction, abs_floor = 1, 0.1
    med = _median(base)
    mad = _median([abs(v - med) for v in base]) * 1.4826
    mean_b = sum(base) / len(base)
    std = math.sqrt(sum((v - mean_b) ** 2 for v in base) / len(base))
    spread = max(mad, 0.5 * std, rel_floor * abs(med), abs_floor)
    mean_inc = sum(inc) / len(inc)
    # The bad-direction extreme of the incident values, tempered by their mean. With three or more
    # incident samples the second most extreme is used: a fault lasts, a one-sample spike does not.
    ranked = sorted(inc, key=lambda v: (v - med) * direction if direction else abs(v - med), reverse=True)
    worst = ranked[1] if len(ranked) >= 3 else ranked[0]
    value = 0.5 * (worst + mean_inc)
    raw = (value - med) / spread
    z = raw * direction if direction else abs(raw)
    ratio = (mean_inc + 1e-9) / (med + 1e-9) if abs(med) > 1e-9 else (1.0 if abs(mean_inc) < 1e-9 else float("inf"))
    if not math.isfinite(ratio):
        ratio = 1e6
    return MetricAnomaly(
        service=first.service,
        metric=first.metric,
        instance=first.instance,
        kind=kind,
        z=z,
        baseline=med,
        incident=mean_inc,
        ratio=ratio,
        score=z_to_score(z) * _ratio_factor(med, value, abs_floor),
    )


def _ratio_factor(baseline: float, value: float, floor: float) -> float:
    """0-1 factor for the size of a change relative to the baseline level: x4 (or /4) or more is 1.

    A z-score alone flags statistically clear but tiny changes on very quiet series; requiring
    the level itself to move keeps those from outranking a service whose CPU went from 1% to 99%.
    """
    b, v = abs(baseline) + floor, abs(value) + floor
    return min(1.0, abs(math.log2(v / b)) / 2.0)


def metric_anomalies(
    samples: Iterable[MetricSample],
    incident: TimeWindow,
    baseline: TimeWindow,
) -> tuple[list[MetricAnomaly], list[str]]:
    """Score every series in `samples`; returns (anomalies sorted by score, notes about the input).

    Use it to see which services' CPU, memory, latency, error, traffic... changed at the incident.
    Series without samples on both sides of the onset are skipped and counted in the notes.
    """
    groups: dict[tuple[str, str, str | None], list[MetricSample]] = defaultdict(list)
    for s in samples:
        groups[(s.service, s.metric, s.instance)].append(s)
    out: list[MetricAnomaly] = []
    skipped = 0
    unknown: set[str] = set()
    for (_svc, metric, _inst), series in groups.items():
        if metric_kind(metric)[0] == "other":
            unknown.add(metric)
        a = score_series(series, incident, baseline)
        if a is None:
            skipped += 1
        else:
            out.append(a)
    out.sort(key=lambda a: -a.score)
    notes: list[str] = []
    if not groups:
        notes.append("no metric samples")
    if skipped:
        notes.append(f"{skipped} metric series lack samples in the baseline or the incident window and were not scored")
    if unknown:
        notes.append(f"unknown metric names scored as 'other': {', '.join(sorted(unknown)[:10])}")
    return out, notes


def service_metric_anomalies(
    anomalies: Iterable[MetricAnomaly],
) -> dict[str, dict[str, MetricAnomaly]]:
    """Per service, a representative series of each kind: {service: {kind: MetricAnomaly}}.

    With one or two series of a kind the most anomalous is kept; with three or more (p50, p90,
    p99, avg...) the median one, so a single noisy percentile does not speak for the service.
    """
    grouped: dict[str, dict[str, list[MetricAnomaly]]] = defaultdict(lambda: defaultdict(list))
    for a in anomalies:
        grouped[a.service][a.kind].append(a)
    best: dict[str, dict[str, MetricAnomaly]] = {}
    for svc, kinds in grouped.items():
        best[svc] = {}
        for kind, items in kinds.items():
            items.sort(key=lambda a: -a.z)
            best[svc][kind] = items[0] if len(items) < 3 else items[len(items) // 2]
    return best


def service_anomalies(
    samples: Iterable[MetricSample],
    service: str,
    incident: TimeWindow,
    baseline: TimeWindow,
    *,
    min_score: float = 0.0,
) -> list[MetricAnomaly]:
    """Metric anomalies of one service (all its series), most anomalous first.

    Use it to ask "what changed in X's CPU, memory, latency, errors, traffic when the incident
    started?". Each result says the metric, the baseline median, the incident mean, the shift z
    (positive = worse) and a 0-1 score; series below `min_score` are left out.
    """
    found, _ = metric_anomalies((s for s in samples if s.service == service), incident, baseline)
    return [a for a in found if a.score >= min_score]
