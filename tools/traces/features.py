"""Per-service evidence features from spans and metrics, each a 0-1 score with a readable line.

Features are split into *local* ones (they point at the service itself: its own CPU, its own
span self time, the network gaps on its edges, its outgoing call pattern) and *symptom* ones
(latency and errors, which also show up in every caller of a faulty service).
"""

from __future__ import annotations

import math
from collections import defaultdict
from collections.abc import Iterable, Mapping
from dataclasses import dataclass, field

from lumos.tools.diagnosis_model import DEFAULT_MODEL
from lumos.tools.metrics.anomaly import MetricAnomaly, z_to_score
from lumos.tools.traces.compare import EdgeGapOutlier, ServiceSpanShift, Shift

SPAN_Z_SCALE = DEFAULT_MODEL.traces.span_z_scale  # see TraceWeights.span_z_scale


@dataclass
class ServiceFeatures:
    """The feature scores (0-1) of one service and one evidence line per non-zero feature."""

    service: str
    scores: dict[str, float] = field(default_factory=dict)
    lines: dict[str, str] = field(default_factory=dict)
    refs: dict[str, str] = field(default_factory=dict)
    observed: set[str] = field(default_factory=set)
    ratios: dict[str, float] = field(default_factory=dict)  # incident/baseline level of metric features (cpu, memory...)
    net_out_own: float = 0.0  # 0-1: how much its slower outgoing calls are its own (all its edges slowed, not its callees')

    def put(self, name: str, score: float, line: str, ref: str) -> None:
        """Keep the strongest evidence for `name`."""
        if score > self.scores.get(name, 0.0):
            self.scores[name] = score
            self.lines[name] = line
            self.refs[name] = ref


def _size(ratio: float) -> float:
    """0-1 weight of a slowdown by its size: x2.8 or more counts fully, small ratios little."""
    return min(1.0, max(0.0, math.log2(max(ratio, 1e-9))) / 1.5)


def evidence_source(ref: str) -> str:
    """The Evidence.source for a feature ref ('metric:...' -> metrics, 'change:...' -> changes, else spans)."""
    if ref.startswith("metric:"):
        return "metrics"
    if ref.startswith("change:"):
        return "changes"
    return "spans"


def significance(z: float, z_min: float) -> float:
    """0 below `z_min` standard errors, 1 from twice that, linear between."""
    return min(1.0, max(0.0, (z - z_min) / z_min))


def span_features(shift: ServiceSpanShift, feats: ServiceFeatures, z_scale: float = SPAN_Z_SCALE,
                  calls_z: float = DEFAULT_MODEL.traces.calls_z) -> None:
    """Add span-derived features of one service to `feats` (scores weigh both z and the size of the change)."""
    if shift.self_time is not None and shift.self_time.ratio > 1.0:
        s = shift.self_time
        feats.put("self_time", z_to_score(s.z, z_scale) * _size(s.ratio), f"own span time x{s.ratio:.2f} (z={s.z:.1f}, n={s.n_base}->{s.n_inc})", "spans:self_time")
    if shift.gap_in is not None:
        feats.observed.add("net_in")
    if shift.gap_in is not None and shift.gap_in.ratio > 1.0:
        s = shift.gap_in
        feats.put("net_in", z_to_score(s.z, z_scale) * _size(s.ratio), f"network gap on calls into it x{s.ratio:.2f} (z={s.z:.1f})", "spans:gap_in")
    if shift.gap_out is not None and shift.gap_out.ratio > 1.0:
        s = shift.gap_out
        feats.put("net_out", z_to_score(s.z, z_scale) * _size(s.ratio), f"network gap on its outgoing calls x{s.ratio:.2f} (z={s.z:.1f})", "spans:gap_out")
    if shift.latency is not None and shift.latency.ratio > 1.0:
        s = shift.latency
        feats.put("latency", z_to_score(s.z, z_scale) * _size(s.ratio), f"span latency x{s.ratio:.2f} (z={s.z:.1f})", "spans:latency")
    if shift.calls_out < -0.05 and (sig := significance(-shift.calls_out_z, calls_z)) > 0:
        feats.put("calls_changed", min(1.0, -shift.calls_out * 1.5) * sig,
                  f"remote calls per request {shift.calls_out:+.0%} (z={shift.calls_out_z:.1f})", "spans:calls_out")
    if shift.errors_inc:
        base_rate = shift.errors_base / max(shift.spans_base, 1)
        inc_rate = shift.errors_inc / max(shift.spans_inc, 1)
        if inc_rate > base_rate:
            feats.put("errors", min(1.0, (inc_rate - base_rate) * 5), f"span error rate {base_rate:.1%} -> {inc_rate:.1%}", "spans:errors")
    if shift.error_origins_inc:
        feats.put("error_origin", min(1.0, shift.error_origins_inc / max(shift.errors_inc, 1)), f"{shift.error_origins_inc} errors originate here (no failing child)", "spans:error_origin")


_METRIC_FEATURE = {
    "cpu": "cpu",
    "memory": "memory",
    "latency": "latency",
    "call_latency": "call_latency",
    "client_latency": "client_latency",
    "errors": "errors",
    "traffic": "traffic",
    "disk": "disk",
    "restarts": "restarts",
    "pool": "pool",
}


def metric_features(kinds: dict[str, MetricAnomaly], feats: ServiceFeatures) -> None:
    """Add metric-derived features (best series per kind) of one service to `feats`."""
    for kind, a in kinds.items():
        name = _METRIC_FEATURE.get(kind)
        if name is None:
            continue
        feats.observed.add(name)
        if a.score <= 0:
            continue
        feats.ratios[name] = a.ratio
        inst = f" [{a.instance}]" if a.instance else ""
        line = f"{a.metric}{inst} {a.baseline:.4g} -> {a.incident:.4g} (z={a.z:.1f})"
        feats.put(name, a.score, line, f"metric:{a.metric}")


def split_edge(instance: str | None) -> tuple[str, str] | None:
    """('caller', 'callee') when a series' instance names a call edge as 'caller->callee'."""
    if not instance or "->" not in instance:
        return None
    caller, _, callee = instance.partition("->")
    caller, callee = caller.strip(), callee.strip()
    return (caller, callee) if caller and callee and caller != callee else None


def edge_metric_features(anomalies: Iterable[MetricAnomaly], feats: dict[str, ServiceFeatures]) -> None:
    """Per-edge latency series ('caller->callee' instances) as evidence on the edge's ends.

    The edge's network gap (`edge_gap_*`, caller minus callee view; else the caller's view alone)
    counts toward `net_in` of the callee and `net_out` of the caller, averaged over each service's edges: a delay on a
    service's own network slows *all* its edges, a busy neighbour only one of them.
    Callee-measured edge latency is the callee's own serving time (`latency`).
    """
    incoming: dict[str, list[MetricAnomaly]] = defaultdict(list)
    outgoing: dict[str, list[MetricAnomaly]] = defaultdict(list)
    anomalies = list(anomalies)
    # Where both ends measure an edge, the derived gap (client minus server) is the purer signal.
    gapped = {a.instance for a in anomalies if a.kind == "edge_gap"}
    for a in anomalies:
        edge = split_edge(a.instance)
        if edge is None:
            continue
        caller, callee = edge
        if a.kind == "edge_gap" or (a.kind == "client_latency" and a.instance not in gapped):
            incoming[callee].append(a)
            outgoing[caller].append(a)
        elif a.kind in ("call_latency", "latency"):
            f = feats.setdefault(callee, ServiceFeatures(service=callee))
            line = f"{a.metric} [{a.instance}] {a.baseline:.4g} -> {a.incident:.4g} (z={a.z:.1f})"
            f.put("latency", a.score, line, f"metric:{a.metric}")
            # Measured by the callee itself: its own serving got slower (used to tell CPU from network).
            f.put("server_latency", a.score, line, f"metric:{a.metric}")
    for name, table in (("net_in", incoming), ("net_out", outgoing)):
        for svc, items in table.items():
            feats.setdefault(svc, ServiceFeatures(service=svc)).observed.add(name)
            mean = sum(a.score for a in items) / len(items)
            worst = max(items, key=lambda a: a.score)
            f = feats.setdefault(svc, ServiceFeatures(service=svc))
            unit = "x caller/callee latency" if worst.metric.startswith("edge_gap_ratio") else "ms"
            line = f"{len(items)} call edge(s) with a wider network gap, e.g. {worst.instance} {worst.baseline:.3g} -> {worst.incident:.3g} {unit}"
            f.put(name, mean, line, f"metric:{worst.metric}")


def gap_outlier_features(outliers: Iterable[EdgeGapOutlier], feats: dict[str, ServiceFeatures], edges: Mapping[tuple[str, str], int],
                         z_scale: float = SPAN_Z_SCALE) -> None:
    """Edges with outlying network gaps as `net_in`/`net_out` evidence: the outlier score weighted
    by the share of the service's calls (in or out, counts from `edges`) that go over such edges,
    so a delayed service (every edge slow) outranks a caller with one slow edge among many.
    """
    score = {(o.caller, o.callee): z_to_score(o.z, z_scale) for o in outliers}
    worst = {(o.caller, o.callee): o for o in outliers}
    ins: dict[str, list[tuple[str, str]]] = defaultdict(list)
    outs: dict[str, list[tuple[str, str]]] = defaultdict(list)
    for caller, callee in edges:
        ins[callee].append((caller, callee))
        outs[caller].append((caller, callee))
    for name, table in (("net_in", ins), ("net_out", outs)):
        for svc, svc_edges in table.items():
            feats.setdefault(svc, ServiceFeatures(service=svc)).observed.add(name)
            hit = [e for e in svc_edges if e in score]
            total = sum(edges[e] for e in svc_edges)
            if not hit or total <= 0:
                continue
            value = sum(score[e] * edges[e] for e in hit) / total
            o = worst[max(hit, key=lambda e: score[e])]
            line = f"{len(hit)}/{len(svc_edges)} call edge(s) with outlying network gaps, e.g. {o.caller}->{o.callee} median {o.median_ms:.0f} ms (z={o.z:.1f} vs other edges)"
            feats.setdefault(svc, ServiceFeatures(service=svc)).put(name, value, line, "spans:gap_outlier")


def edge_side_attribution(edge_shifts: Mapping[tuple[str, str], Shift], feats: dict[str, ServiceFeatures], *, shift_z: float) -> None:
    """Which end of each slower call edge the slowdown belongs to, from the other edges of both ends.

    A span's uncovered time is charged to every edge it calls over, so one slower edge cannot tell
    a slow caller (its own time, its own network) from a slow callee. The other edges can: a caller
    at fault slows all its outgoing edges while its callees' other callers stay healthy; a callee at
    fault slows the calls of all its callers. Per slower edge, each end's rate of *other* slower
    edges (with a half-edge prior, so an end without other edges is undecided) gives the caller's
    share q. A callee's `net_in` keeps min(1, 2(1 - q)) of its strength (averaged over its slower
    incoming edges): undecided or callee-side edges leave it whole. A caller's `net_out_own` is the
    mean of max(0, 2q - 1): the guard that hands slow outgoing calls to the callee then yields.
    """
    judged_out: dict[str, set[str]] = defaultdict(set)
    judged_in: dict[str, set[str]] = defaultdict(set)
    slower = {e for e, sh in edge_shifts.items() if sh.z >= shift_z and sh.ratio > 1.0}
    for caller, callee in edge_shifts:
        judged_out[caller].add(callee)
        judged_in[callee].add(caller)
    slow_out: dict[str, set[str]] = defaultdict(set)
    slow_in: dict[str, set[str]] = defaultdict(set)
    for caller, callee in slower:
        slow_out[caller].add(callee)
        slow_in[callee].add(caller)

    def rate(k: int, n: int) -> float:
        return (k + 0.5) / (n + 1.0)

    q: dict[tuple[str, str], float] = {}
    for caller, callee in slower:
        c = rate(len(slow_out[caller]) - 1, len(judged_out[caller]) - 1)
        x = rate(len(slow_in[callee]) - 1, len(judged_in[callee]) - 1)
        q[(caller, callee)] = c / (c + x)
    for svc, callers in slow_in.items():
        f = feats.get(svc)
        if f is not None and f.refs.get("net_in", "").startswith("spans:"):
            keep = sum(min(1.0, 2.0 * (1.0 - q[(c, svc)])) for c in callers) / len(callers)
            f.scores["net_in"] *= keep
            if keep < 1.0:
                f.lines["net_in"] += f" (shared with its callers: {keep:.0%} kept)"
    for svc, callees in slow_out.items():
        if svc in feats:
            feats[svc].net_out_own = sum(max(0.0, 2.0 * q[(svc, c)] - 1.0) for c in callees) / len(callees)
