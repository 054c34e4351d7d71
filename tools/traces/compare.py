"""Compare span behaviour before and after the incident onset, per service and per call edge.

Every comparison is made per operation (or per edge) and then summarised per service, so a
change in the request mix is not mistaken for a slowdown. Statistics are robust shifts of
log-durations: the fault-free baseline sets the scale, the incident window the shift.
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import datetime

from lumos.tools.traces.spans import SpanIndex, entry_call_sequences

_MIN_SAMPLES = 3
_FEW_BASE = 5
_PRIOR_SPREAD = 0.4


@dataclass(frozen=True)
class Shift:
    """A robust shift of one quantity: z (in baseline noise units), ratio of medians, sample counts."""

    z: float
    ratio: float
    n_base: int
    n_inc: int


@dataclass
class ServiceSpanShift:
    """How one service's spans changed at the onset (positive z = slower / more)."""

    service: str
    self_time: Shift | None = None
    latency: Shift | None = None
    gap_in: Shift | None = None
    gap_out: Shift | None = None
    calls_out: float = 0.0
    errors_base: int = 0
    errors_inc: int = 0
    error_origins_inc: int = 0
    spans_base: int = 0
    spans_inc: int = 0
    edge_shifts: dict[str, Shift] = field(default_factory=dict)


def _median(values: Sequence[float]) -> float:
    s = sorted(values)
    n = len(s)
    return s[n // 2] if n % 2 else 0.5 * (s[n // 2 - 1] + s[n // 2])


def robust_shift(base: Sequence[float], inc: Sequence[float], *, floor_ms: float = 1.0) -> Shift | None:
    """Shift of `inc` against `base` on log(1+ms/floor): (median difference) / robust baseline spread.

    None without a baseline value or with fewer than two incident values. The spread is floored
    so that a flat baseline does not turn a tiny change into an enormous z; with fewer than five
    baseline values a wide prior spread (x1.5 on the ms scale) stands in for the unknown noise.
    """
    if len(base) < 1 or len(inc) < 2:
        return None
    lb = [math.log1p(max(v, 0.0) / floor_ms) for v in base]
    li = [math.log1p(max(v, 0.0) / floor_ms) for v in inc]
    mb, mi = _median(lb), _median(li)
    mad = _median([abs(v - mb) for v in lb]) * 1.4826
    spread = max(mad, 0.05) if len(lb) >= _FEW_BASE else max(mad, _PRIOR_SPREAD)
    # Standard error of the median difference, shrinking with the sample sizes.
    se = spread * math.sqrt(1.0 / len(lb) + 1.0 / len(li)) * 1.25
    z = (mi - mb) / max(se, 1e-9)
    ratio = (_median(inc) + floor_ms) / (_median(base) + floor_ms)
    return Shift(z=z, ratio=ratio, n_base=len(lb), n_inc=len(li))


def _pooled(shifts: Sequence[tuple[Shift, int]]) -> Shift | None:
    """Combine per-operation shifts into one, weighting z by sqrt of incident counts (Stouffer)."""
    shifts = [(s, w) for s, w in shifts if s is not None]
    if not shifts:
        return None
    wsum = math.sqrt(sum(w for _, w in shifts))
    z = sum(s.z * math.sqrt(w) for s, w in shifts) / max(wsum, 1e-9)
    ratio = math.exp(sum(math.log(max(s.ratio, 1e-9)) * w for s, w in shifts) / sum(w for _, w in shifts))
    return Shift(z=z, ratio=ratio, n_base=sum(s.n_base for s, _ in shifts), n_inc=sum(s.n_inc for s, _ in shifts))


def compare_spans(index: SpanIndex, onset: datetime, end: datetime | None = None) -> dict[str, ServiceSpanShift]:
    """Per-service span shifts: spans starting before `onset` are the baseline, the rest the incident.

    Self time is compared per (service, operation); the call gap per (caller, callee) edge and
    attributed to both ends (`gap_out` for the caller, `gap_in` for the callee); `calls_out` is
    the relative change in remote calls made per entry span (negative = calls stopped,
    which is what an exception or an early return looks like to the callees).
    """
    self_t: dict[tuple[str, str], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    lat: dict[tuple[str, str], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    gaps: dict[tuple[str, str], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    calls: dict[tuple[str, str], tuple[list[float], list[float]]] = defaultdict(lambda: ([], []))
    out: dict[str, ServiceSpanShift] = {}
    # Remote calls per entry span (all remote calls made while serving that request).
    sequences = entry_call_sequences(index)
    # Per service: [spans_base, spans_inc, errors_base, errors_inc, error_origins_inc].
    counts: dict[str, list[int]] = {}
    seq_get = sequences.get
    for f in index.facts:
        s = f.span
        if end is not None and s.start >= end:
            continue
        side = 1 if s.start >= onset else 0
        service = s.service
        c = counts.get(service)
        if c is None:
            out[service] = ServiceSpanShift(service=service)
            c = counts[service] = [0, 0, 0, 0, 0]
        c[side] += 1
        if s.status == "ERROR":
            c[2 + side] += 1
        if side:
            c[4] += f.error_origin
        rc = f.remote_children
        if f.gap_ms > 0 or rc:
            for callee in rc if len(rc) == 1 else sorted(set(rc)):
                gaps[(service, callee)][side].append(f.gap_ms)
        else:
            self_t[(service, s.operation)][side].append(f.self_ms)
        if f.is_entry:
            op = (service, s.operation)
            lat[op][side].append(s.duration_ms)
            calls[op][side].append(float(len(seq_get((s.trace_id, s.span_id), ()))))
    for service, (nb, ni, eb, ei, oi) in counts.items():
        svc = out[service]
        svc.spans_base, svc.spans_inc, svc.errors_base, svc.errors_inc, svc.error_origins_inc = nb, ni, eb, ei, oi

    def per_service(table: dict[tuple[str, str], tuple[list[float], list[float]]]) -> dict[str, Shift]:
        grouped: dict[str, list[tuple[Shift, int]]] = defaultdict(list)
        for (svc, _op), (b, i) in table.items():
            sh = robust_shift(b, i)
            if sh is not None:
                grouped[svc].append((sh, len(i)))
        return {svc: p for svc, items in grouped.items() if (p := _pooled(items)) is not None}

    for svc, sh in per_service(self_t).items():
        out[svc].self_time = sh
    for svc, sh in per_service(lat).items():
        out[svc].latency = sh
    edge_shift = {e: sh for e, (b, i) in gaps.items() if (sh := robust_shift(b, i)) is not None}
    gin: dict[str, list[tuple[Shift, int]]] = defaultdict(list)
    gout: dict[str, list[tuple[Shift, int]]] = defaultdict(list)
    for (caller, callee), sh in edge_shift.items():
        gout[caller].append((sh, sh.n_inc))
        gin[callee].append((sh, sh.n_inc))
        out.setdefault(caller, ServiceSpanShift(service=caller)).edge_shifts[callee] = sh
    for svc, items in gin.items():
        out.setdefault(svc, ServiceSpanShift(service=svc)).gap_in = _pooled(items)
    for svc, items in gout.items():
        out.setdefault(svc, ServiceSpanShift(service=svc)).gap_out = _pooled(items)
    # Relative change in outgoing calls per entry span, weighted by operation volume.
    change: dict[str, list[tuple[float, int]]] = defaultdict(list)
    for (svc, _op), (b, i) in calls.items():
        if len(b) >= _MIN_SAMPLES and len(i) >= _MIN_SAMPLES:
            mb, mi = sum(b) / len(b), sum(i) / len(i)
            if mb > 0 or mi > 0:
                change[svc].append(((mi - mb) / max(mb, mi), len(i)))
    for svc, items in change.items():
        total = sum(w for _, w in items)
        out[svc].calls_out = sum(c * w for c, w in items) / total if total else 0.0
    return out


OUTLIER_Z = 3.0  # robust z over edges beyond which an edge's gap is an outlier


@dataclass(frozen=True)
class EdgeGapOutlier:
    """A call edge whose network gap after the onset stands out from the other edges' gaps."""

    caller: str
    callee: str
    median_ms: float  # the edge's typical gap after the onset (see _typical_gap)
    z: float
    n: int


def _typical_gap(values: Sequence[float]) -> float:
    """A gap most calls on the edge reach: the smaller of two, else the median (edges with one call
    are not judged). A network delay is in every call, while one slow first call (connection
    set-up, cold caches) must not count."""
    return min(values) if len(values) <= 2 else _median(values)


def gap_outliers(index: SpanIndex, onset: datetime) -> list[EdgeGapOutlier]:
    """Edges whose median gap after `onset` is far above the typical edge's (robust z over edges,
    on log1p(ms)); an edge that was already that slow before the onset is discounted by its own
    pre-onset standing. Works without a baseline, which is what it is for: a network delay adds
    the same large gap to every call into or out of the delayed service.
    """
    inc: dict[tuple[str, str], list[float]] = defaultdict(list)
    base: dict[tuple[str, str], list[float]] = defaultdict(list)
    for f in index.facts:
        rc = f.remote_children
        if not rc:
            continue
        table = inc if f.span.start >= onset else base
        for callee in rc if len(rc) == 1 else sorted(set(rc)):
            table[(f.span.service, callee)].append(f.gap_ms)
    if len(inc) < 4:
        return []

    def standing(table: dict[tuple[str, str], list[float]]) -> dict[tuple[str, str], float]:
        meds = {e: math.log1p(_typical_gap(v)) for e, v in table.items() if len(v) >= 2}
        if len(meds) < 4:
            return {}
        center = _median(list(meds.values()))
        spread = max(_median([abs(m - center) for m in meds.values()]) * 1.4826, 0.25)
        return {e: (m - center) / spread for e, m in meds.items()}

    z_inc, z_base = standing(inc), standing(base)
    out = []
    for edge, z in z_inc.items():
        z_eff = z - max(z_base.get(edge, 0.0), 0.0)
        if z_eff >= OUTLIER_Z:
            out.append(EdgeGapOutlier(caller=edge[0], callee=edge[1], median_ms=_typical_gap(inc[edge]), z=z_eff, n=len(inc[edge])))
    return sorted(out, key=lambda o: -o.z)
