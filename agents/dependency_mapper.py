"""The dependency mapping agent's offline analyzer: call graph, per-service signals, blast radius.

It merges the catalog topology with edges seen in spans, finds the onset in the traces,
compares every service's spans and metric series before and after it, scores changes near
the onset, ranks services with the graph (`lumos.tools.topology.rank`) and draws the neighbourhood.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from datetime import datetime, timedelta

import networkx as nx

from lumos.tools.changes import correlate_changes
from lumos.tools.domain import (
    Change,
    DependencyReport,
    Evidence,
    MetricSample,
    ServiceSignal,
    Span,
    TimeWindow,
    Topology,
    TriageReport,
)
from lumos.tools.metrics.anomaly import metric_anomalies, service_metric_anomalies
from lumos.tools.metrics.derive import edge_gap_series
from lumos.tools.topology.graph import build_call_graph
from lumos.tools.topology.mermaid import incident_mermaid
from lumos.tools.topology.queries import blast_radius
from lumos.tools.topology.rank import rank_services
from lumos.tools.traces.compare import EdgeGapOutlier, compare_spans, gap_outliers
from lumos.tools.traces.features import (
    ServiceFeatures,
    edge_metric_features,
    evidence_source,
    gap_outlier_features,
    metric_features,
    span_features,
    split_edge,
)
from lumos.tools.traces.onset import detect_onset
from lumos.tools.traces.patterns import truncation_blame
from lumos.tools.traces.spans import SpanIndex, index_spans

_MIN_SIDE_S = 15.0
METRIC_HORIZON_S = 240.0


def _span_onset(spans: Sequence[Span], index: SpanIndex, notes: list[str]) -> datetime | None:
    """The onset seen in the traces, or None when the spans cannot tell."""
    if len(spans) < 20:
        return None
    first = min(s.start for s in spans)
    last = max(s.start for s in spans)
    onset, strength = detect_onset(index, earliest=first, latest=last - timedelta(seconds=_MIN_SIDE_S), min_side_s=_MIN_SIDE_S)
    if onset is None:
        notes.append("spans too sparse to locate the onset; using the triage window")
        return None
    notes.append(f"onset from spans: {onset.isoformat(timespec='seconds')} (shift strength {strength:.2f})")
    return onset


def _add_span_features(index: SpanIndex, onset: datetime, alert_onset: datetime, feats: dict[str, ServiceFeatures]) -> None:
    """Span evidence: before/after shifts, outlying network gaps, requests that stopped early."""
    for svc, shift in compare_spans(index, onset).items():
        span_features(shift, feats.setdefault(svc, ServiceFeatures(service=svc)))
    # Outlying gaps are judged at both onset estimates (traces, alert-based triage), keeping the
    # stronger per edge: a wrong trace onset must not hide a delay behind its own baseline.
    outliers: dict[tuple[str, str], EdgeGapOutlier] = {}
    for o in gap_outliers(index, alert_onset) + gap_outliers(index, onset):
        key = (o.caller, o.callee)
        if key not in outliers or o.z > outliers[key].z:
            outliers[key] = o
    gap_outlier_features(outliers.values(), feats, index.edges)
    for svc, blame in truncation_blame(index, onset).items():
        # Share of its calls that ended the request, discounted when only a handful were seen.
        share = blame.blamed / max(blame.calls, blame.blamed) * (1.0 - math.exp(-blame.blamed / 3.0))
        line = f"{blame.blamed} requests of {', '.join(blame.callers)} ended right after calling it ({share:.0%} of its incident calls)"
        feats.setdefault(svc, ServiceFeatures(service=svc)).put("calls_blamed", share, line, "spans:truncated_after")


def collect_features(
    *,
    graph: nx.DiGraph,
    index: SpanIndex,
    spans: Sequence[Span],
    metrics: Sequence[MetricSample],
    triage: TriageReport,
    notes: list[str],
) -> tuple[dict[str, ServiceFeatures], datetime]:
    """Per-service features from spans and metrics around the onset; returns (features, onset)."""
    onset = _span_onset(spans, index, notes) or triage.incident_window.start
    feats: dict[str, ServiceFeatures] = {n: ServiceFeatures(service=n) for n in graph.nodes}
    if spans:
        _add_span_features(index, onset, triage.incident_window.start, feats)
    elif triage.incident_window.seconds > 0:
        notes.append("no spans: signals come from metrics (and logs) only")
    data_start = min((m.ts for m in metrics), default=triage.baseline_window.start)
    # Metric samples lag the fault (scrape intervals, rate windows): look a few minutes past the onset.
    incident = TimeWindow(start=onset, end=max(triage.incident_window.end, onset + timedelta(seconds=METRIC_HORIZON_S)))
    baseline = TimeWindow(start=min(data_start, onset), end=onset)
    if baseline.seconds <= 0:
        notes.append("empty baseline window: metric anomalies cannot be scored")
    anomalies, mnotes = metric_anomalies(list(metrics) + edge_gap_series(metrics), incident, baseline)
    notes.extend(mnotes)
    node_series = [a for a in anomalies if split_edge(a.instance) is None]
    edge_metric_features(anomalies, feats)
    for svc, kinds in service_metric_anomalies(node_series).items():
        if svc not in graph:
            graph.add_node(svc, kind="service", tier=None, criticality=None, in_topology=False)
        metric_features(kinds, feats.setdefault(svc, ServiceFeatures(service=svc)))
    return feats, onset


def _signal(f: ServiceFeatures, score: float, hints: dict[str, float]) -> ServiceSignal:
    """One service's ServiceSignal: its rank score, the kinds of evidence it shows and the best lines."""
    kinds = sorted((k for k, v in f.scores.items() if v >= 0.3), key=lambda k: -f.scores[k])
    evidence = [
        Evidence(source=evidence_source(f.refs[k]), summary=f.lines[k], ref=f.refs[k], service=f.service, weight=round(f.scores[k], 4))
        for k in sorted(f.scores, key=lambda k: -f.scores[k])
        if f.scores[k] > 0.05
    ]
    return ServiceSignal(service=f.service, score=max(0.0, min(1.0, score)), kinds=kinds, fault_hints=hints, evidence=evidence[:8])


def map_dependencies(
    *,
    topology: Topology,
    spans: Sequence[Span],
    metrics: Sequence[MetricSample],
    changes: Sequence[Change],
    triage: TriageReport,
) -> DependencyReport:
    """Map the incident onto the call graph and rank where the fault is; bad input ends up in notes."""
    notes: list[str] = []
    index = index_spans(spans)
    graph, gnotes = build_call_graph(topology, index.edges, sorted({f.span.service for f in index.facts}))
    notes.extend(gnotes)
    notes.extend(index.notes)
    feats, onset = collect_features(graph=graph, index=index, spans=spans, metrics=metrics, triage=triage, notes=notes)
    if graph.number_of_nodes() == 0:
        notes.append("no topology, spans or metrics: nothing to map")
        return DependencyReport(alert_service=triage.alert_service, notes=notes)
    symptomatic = [s for s, f in feats.items() if max(f.scores.values(), default=0.0) >= 0.5] or (
        [triage.alert_service] if triage.alert_service else []
    )
    for corr in correlate_changes(changes, onset, symptomatic, graph, until=triage.alert_time):
        if corr.suspicion <= 0:
            continue
        c = corr.change
        f = feats.setdefault(c.service, ServiceFeatures(service=c.service))
        minutes = corr.seconds_before_onset / 60
        when = f"{minutes:.0f} min before onset" if minutes >= 0 else f"{-minutes:.0f} min after the estimated onset, before the alert"
        line = f"{c.kind} {c.summary or c.version or ''} {when}, {corr.distance} call(s) from symptoms"
        f.put(f"change_{c.kind}", corr.suspicion, line.strip(), f"change:{c.ts.isoformat()}")
        if c.service not in graph:
            graph.add_node(c.service, kind="service", tier=None, criticality=None, in_topology=False)
    ranked = rank_services(graph, feats, alert_service=triage.alert_service)
    signals = [_signal(feats[r.service], r.score, r.fault_hints) for r in ranked if r.service in feats]
    signals.sort(key=lambda s: -s.score)
    hypotheses = [r.to_hypothesis(feats.get(r.service)) for r in ranked]
    top = hypotheses[0].service if hypotheses else None
    radius = blast_radius(graph, top) if top else None
    blast = radius.affected if radius else []
    mermaid = incident_mermaid(graph, suspects=[h.service for h in hypotheses[:3]], alert_service=triage.alert_service, blast=blast)
    return DependencyReport(
        services=signals,
        ranking=hypotheses,
        alert_service=triage.alert_service,
        blast_radius=blast,
        mermaid=mermaid,
        notes=notes,
    )
