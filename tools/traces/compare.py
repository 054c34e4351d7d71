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

import numpy as np

from lumos.tools.diagnosis_model import DEFAULT_MODEL
from lumos.tools.traces.columns import log1p_list, segment_bounds
from lumos.tools.traces.spans import SpanIndex, span_columns

_MIN_SAMPLES = 3
_FEW_BASE = 5
_PRIOR_SPREAD = 0.4
_EMPTY = np.zeros(0)
_Sorted = tuple[np.ndarray, np.ndarray]  # ascending values of a group, and their log1p(max(v, 0))


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
    calls_out_z: float = 0.0  # significance of calls_out (pooled z of the per-operation mean differences)
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


def _sorted_median(s: np.ndarray) -> float:
    """_median of an already sorted array (same arithmetic, a Python float)."""
    n = len(s)
    return float(s[n // 2]) if n % 2 else 0.5 * (float(s[n // 2 - 1]) + float(s[n // 2]))


def _shift_sorted(base: _Sorted, inc: _Sorted, *, floor_ms: float = 1.0) -> Shift | None:
    """`robust_shift` (floor 1 ms) of two groups of ascending values with their logs, vectorised
    with the same arithmetic."""
    (bv, lb), (iv, li) = base, inc
    if len(lb) < 1 or len(li) < 2:
        return None
    mb, mi = _sorted_median(lb), _sorted_median(li)
    mad = _sorted_median(np.sort(np.abs(lb - mb))) * 1.4826
    spread = max(mad, 0.05) if len(lb) >= _FEW_BASE else max(mad, _PRIOR_SPREAD)
    se = spread * math.sqrt(1.0 / len(lb) + 1.0 / len(li)) * 1.25
    z = (mi - mb) / max(se, 1e-9)
    ratio = (_sorted_median(iv) + floor_ms) / (_sorted_median(bv) + floor_ms)
    return Shift(z=z, ratio=ratio, n_base=len(lb), n_inc=len(li))


def _first_order(key: np.ndarray) -> list[int]:
    """Distinct codes of `key` in order of first appearance."""
    n = len(key)
    if n == 0:
        return []
    size = int(key.max()) + 1
    if size > 4 * n + 1024:  # sparse codes: sort instead of a table
        uniq, first = np.unique(key, return_index=True)
        return uniq[np.argsort(first)].tolist()
    first = np.full(size, n, dtype=np.int64)
    np.minimum.at(first, key, np.arange(n))
    present = np.flatnonzero(first < n)
    return present[np.argsort(first[present])].tolist()


def _sorted_groups(key: np.ndarray, value: np.ndarray, logs: bool = True) -> dict[int, _Sorted]:
    """{code: (ascending values of that code, their log1p(max(v, 0)))}; logs empty unless asked."""
    if len(key) == 0:
        return {}
    order = np.argsort(key)  # values are sorted within each code below: stability is not needed
    k, v = key[order], value[order]
    starts, ends = segment_bounds(k)
    bounds = list(zip(k[starts].tolist(), starts.tolist(), ends.tolist()))
    for _, a, b in bounds:
        if b - a > 1:
            v[a:b].sort()
    # log1p is monotone, so the logs of sorted values are sorted too.
    lv = log1p_list(v) if logs else _EMPTY
    return {c: (v[a:b], lv[a:b] if logs else _EMPTY) for c, a, b in bounds}


def _table(key: np.ndarray, side: np.ndarray, value: np.ndarray, logs: bool = True) -> list[tuple[int, _Sorted, _Sorted]]:
    """[(code, baseline group, incident group)] in order of first appearance (see _sorted_groups)."""
    base = _sorted_groups(key[~side], value[~side], logs)
    inc = _sorted_groups(key[side], value[side], logs)
    none = (_EMPTY, _EMPTY)
    return [(c, base.get(c, none), inc.get(c, none)) for c in _first_order(key)]


def _mean_z(b: np.ndarray, i: np.ndarray, mb: float, mi: float) -> float:
    """Welch z of the difference of two means (incident minus baseline). The standard error is
    floored at 5% of the larger mean per request, so a constant count that changes is significant
    but not infinitely so."""
    nb, ni = len(b), len(i)
    se = math.sqrt(float(b.var(ddof=1)) / nb + float(i.var(ddof=1)) / ni)
    floor = 0.05 * max(mb, mi) * math.sqrt(1.0 / nb + 1.0 / ni)
    return (mi - mb) / max(se, floor, 1e-9)


def compare_spans(index: SpanIndex, onset: datetime, end: datetime | None = None) -> dict[str, ServiceSpanShift]:
    """Per-service span shifts: spans starting before `onset` are the baseline, the rest the incident.

    Self time is compared per (service, operation); the call gap per (caller, callee) edge and
    attributed to both ends (`gap_out` for the caller, `gap_in` for the callee); `calls_out` is
    the relative change in remote calls made per entry span (negative = calls stopped,
    which is what an exception or an early return looks like to the callees).
    """
    cols = span_columns(index)
    names, groups = cols.services, cols.groups
    ns = len(names)
    side_all = cols.start >= onset.timestamp()
    keep = np.ones(len(side_all), dtype=bool) if end is None else ~(cols.start >= end.timestamp())
    kept = np.flatnonzero(keep)
    svc, side = cols.service[kept], side_all[kept]
    out: dict[str, ServiceSpanShift] = {names[c]: ServiceSpanShift(service=names[c]) for c in _first_order(svc)}
    tallies = [
        np.bincount(svc[~side], minlength=ns), np.bincount(svc[side], minlength=ns),
        np.bincount(svc[~side & cols.error[kept]], minlength=ns), np.bincount(svc[side & cols.error[kept]], minlength=ns),
        np.bincount(svc[side & cols.error_origin[kept]], minlength=ns),
    ]
    code_of = {n: i for i, n in enumerate(names)}
    for name, sh in out.items():
        i = code_of[name]
        sh.spans_base, sh.spans_inc, sh.errors_base, sh.errors_inc, sh.error_origins_inc = (int(t[i]) for t in tallies)
    # Self time where no remote call is made; the call gap per distinct callee otherwise.
    plain = kept[~((cols.gap_ms[kept] > 0) | cols.has_remote[kept])]
    self_t = _table(cols.group[plain], side_all[plain], cols.self_ms[plain])
    pf = cols.pairs_fact[keep[cols.pairs_fact]]
    pc = cols.pairs_callee[keep[cols.pairs_fact]]
    gaps = _table(cols.service[pf] * ns + pc, side_all[pf], cols.gap_ms[pf])
    entries = kept[cols.is_entry[kept]]
    lat = _table(cols.group[entries], side_all[entries], cols.duration[entries])
    live_calls = cols.calls_fact[cols.entry[cols.calls_fact] >= 0]
    per_entry = np.bincount(cols.entry[live_calls], minlength=len(side_all)).astype(float)
    calls = _table(cols.group[entries], side_all[entries], per_entry[cols.key_fact[entries]], logs=False)

    def per_service(table: list[tuple[int, _Sorted, _Sorted]]) -> dict[str, Shift]:
        grouped: dict[str, list[tuple[Shift, int]]] = defaultdict(list)
        for g, b, i in table:
            sh = _shift_sorted(b, i)
            if sh is not None:
                grouped[groups[g][0]].append((sh, len(i[0])))
        return {svc: p for svc, items in grouped.items() if (p := _pooled(items)) is not None}

    for name, sh in per_service(self_t).items():
        out[name].self_time = sh
    for name, sh in per_service(lat).items():
        out[name].latency = sh
    edge_shift = {(names[e // ns], names[e % ns]): sh for e, b, i in gaps if (sh := _shift_sorted(b, i)) is not None}
    gin: dict[str, list[tuple[Shift, int]]] = defaultdict(list)
    gout: dict[str, list[tuple[Shift, int]]] = defaultdict(list)
    for (caller, callee), sh in edge_shift.items():
        gout[caller].append((sh, sh.n_inc))
        gin[callee].append((sh, sh.n_inc))
        out.setdefault(caller, ServiceSpanShift(service=caller)).edge_shifts[callee] = sh
    for name, items in gin.items():
        out.setdefault(name, ServiceSpanShift(service=name)).gap_in = _pooled(items)
    for name, items in gout.items():
        out.setdefault(name, ServiceSpanShift(service=name)).gap_out = _pooled(items)
    # Relative change in outgoing calls per entry span, weighted by operation volume, and how far
    # it stands out from the request-to-request variation of the call count (Welch z, pooled).
    change: dict[str, list[tuple[float, int]]] = defaultdict(list)
    zs: dict[str, list[tuple[Shift, int]]] = defaultdict(list)
    for g, (b, _), (i, _) in calls:
        if len(b) >= _MIN_SAMPLES and len(i) >= _MIN_SAMPLES:
            mb, mi = float(b.sum()) / len(b), float(i.sum()) / len(i)
            if mb > 0 or mi > 0:
                change[groups[g][0]].append(((mi - mb) / max(mb, mi), len(i)))
                zs[groups[g][0]].append((Shift(z=_mean_z(b, i, mb, mi), ratio=1.0, n_base=len(b), n_inc=len(i)), len(i)))
    for name, items in change.items():
        total = sum(w for _, w in items)
        out[name].calls_out = sum(c * w for c, w in items) / total if total else 0.0
        pooled = _pooled(zs[name])
        out[name].calls_out_z = pooled.z if pooled is not None else 0.0
    return out


OUTLIER_Z = DEFAULT_MODEL.traces.outlier_z  # robust z over edges beyond which an edge's gap is an outlier


@dataclass(frozen=True)
class EdgeGapOutlier:
    """A call edge whose network gap after the onset stands out from the other edges' gaps."""

    caller: str
    callee: str
    median_ms: float  # the edge's typical gap after the onset (see _typical_gap)
    z: float
    n: int


def _typical_gap(values: np.ndarray) -> float:
    """A gap most calls on the edge reach: the smaller of two, else the median (edges with one call
    are not judged). A network delay is in every call, while one slow first call (connection
    set-up, cold caches) must not count. `values` is sorted ascending."""
    return float(values[0]) if len(values) <= 2 else _sorted_median(values)


def gap_outliers(index: SpanIndex, onset: datetime, outlier_z: float = OUTLIER_Z) -> list[EdgeGapOutlier]:
    """Edges whose median gap after `onset` is far above the typical edge's (robust z over edges,
    on log1p(ms)); an edge that was already that slow before the onset is discounted by its own
    pre-onset standing. Works without a baseline, which is what it is for: a network delay adds
    the same large gap to every call into or out of the delayed service.
    """
    cols = span_columns(index)
    names = cols.services
    ns = len(names)
    pf = cols.pairs_fact
    edge = cols.service[pf] * ns + cols.pairs_callee
    after = cols.start[pf] >= onset.timestamp()
    gaps = cols.gap_ms[pf]

    def table(mask: np.ndarray) -> dict[tuple[str, str], np.ndarray]:
        groups = _sorted_groups(edge[mask], gaps[mask], logs=False)
        return {(names[e // ns], names[e % ns]): groups[e][0] for e in _first_order(edge[mask])}

    inc, base = table(after), table(~after)
    if len(inc) < 4:
        return []

    def standing(table: dict[tuple[str, str], np.ndarray]) -> dict[tuple[str, str], float]:
        meds = {e: math.log1p(_typical_gap(v)) for e, v in table.items() if len(v) >= 2}
        if len(meds) < 4:
            return {}
        center = _median(list(meds.values()))
        spread = max(_median([abs(m - center) for m in meds.values()]) * 1.4826, 0.25)
        return {e: (m - center) / spread for e, m in meds.items()}

    z_inc, z_base = standing(inc), standing(base)
    out = []
    for edge_key, z in z_inc.items():
        z_eff = z - max(z_base.get(edge_key, 0.0), 0.0)
        if z_eff >= outlier_z:
            out.append(EdgeGapOutlier(caller=edge_key[0], callee=edge_key[1], median_ms=_typical_gap(inc[edge_key]), z=z_eff, n=len(inc[edge_key])))
    return sorted(out, key=lambda o: -o.z)
