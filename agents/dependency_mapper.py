"""The dependency mapping agent's offline analyzer: call graph, per-service signals, blast radius.

It merges the catalog topology with edges seen in spans, finds the onset in the traces,
compares every service's spans and metric series before and after it, scores changes near
the onset, ranks services with the graph (`lumos.tools.topology.rank`) and draws the neighbourhood.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta

import networkx as nx

from lumos.tools.changes import correlate_changes
from lumos.tools.diagnosis_model import DEFAULT_MODEL, DiagnosisModel
from lumos.tools.domain import (
    Change,
    DependencyReport,
    Evidence,
    LogRecord,
    MetricSample,
    ServiceSignal,
    Span,
    TimeWindow,
    Topology,
    TriageReport,
)
from lumos.tools.metrics.anomaly import metric_anomalies, service_metric_anomalies
from lumos.tools.metrics.derive import edge_gap_series
from lumos.tools.metrics.memory import memory_growth
from lumos.tools.metrics.mirror import mirror_targets
from lumos.tools.onset import metric_onset
from lumos.tools.topology.graph import build_call_graph
from lumos.tools.topology.mermaid import incident_mermaid
from lumos.tools.topology.queries import blast_radius
from lumos.tools.topology.rank import local_score, rank_services, symptom_score
from lumos.tools.traces.compare import EdgeGapOutlier, compare_spans, gap_outliers
from lumos.tools.traces.features import (
    ServiceFeatures,
    edge_metric_features,
    edge_side_attribution,
    evidence_source,
    gap_outlier_features,
    metric_features,
    span_features,
    split_edge,
)
from lumos.tools.traces.onset import detect_onset
from lumos.tools.traces.patterns import truncation_blame
from lumos.tools.traces.sequences import missing_events
from lumos.tools.traces.spans import SpanIndex, index_spans, span_columns, span_services

_MIN_SIDE_S = 15.0
METRIC_HORIZON_S = 240.0


def _span_onset(index: SpanIndex, notes: list[str], model: DiagnosisModel = DEFAULT_MODEL) -> datetime | None:
    """The onset seen in the traces, or None when the spans cannot tell."""
    if len(index) < 20:
        return None
    starts = span_columns(index).start
    first = datetime.fromtimestamp(float(starts.min()), tz=UTC)
    last = datetime.fromtimestamp(float(starts.max()), tz=UTC)
    onset, strength = detect_onset(index, earliest=first, latest=last - timedelta(seconds=_MIN_SIDE_S), min_side_s=_MIN_SIDE_S,
                                   early_fraction=model.onset.early_fraction, significant=model.onset.span_significant)
    if onset is None:
        notes.append("spans too sparse to locate the onset; using the triage window")
        return None
    notes.append(f"onset from spans: {onset.isoformat(timespec='seconds')} (shift strength {strength:.2f})")
    return onset


def _add_span_features(index: SpanIndex, onset: datetime, alert_onset: datetime, feats: dict[str, ServiceFeatures],
                       model: DiagnosisModel = DEFAULT_MODEL, *, logs: Sequence[LogRecord] = (), data_end: datetime | None = None) -> None:
    """Span evidence: before/after shifts, outlying network gaps, requests that stopped early."""
    z_scale = model.traces.span_z_scale
    shifts = compare_spans(index, onset)
    for svc, shift in shifts.items():
        span_features(shift, feats.setdefault(svc, ServiceFeatures(service=svc)), z_scale, model.traces.calls_z)
    # Outlying gaps are judged at both onset estimates (traces, alert-based triage), keeping the
    # stronger per edge: a wrong trace onset must not hide a delay behind its own baseline.
    outliers: dict[tuple[str, str], EdgeGapOutlier] = {}
    for o in gap_outliers(index, alert_onset, model.traces.outlier_z) + gap_outliers(index, onset, model.traces.outlier_z):
        key = (o.caller, o.callee)
        if key not in outliers or o.z > outliers[key].z:
            outliers[key] = o
    gap_outlier_features(outliers.values(), feats, index.edges, z_scale)
    edge_side_attribution({(a, b): sh for a, s in shifts.items() for b, sh in s.edge_shifts.items()}, feats,
                          shift_z=model.traces.edge_shift_z)
    for svc, miss in missing_events(index, logs, onset, data_end=data_end, w=model.missing).items():
        line = (f"{miss.missing_inc} of {miss.calls_inc} calls lacked an event they had before the onset ({miss.example}); "
                f"{miss.missing_base} of {miss.calls_base} before")
        feats.setdefault(svc, ServiceFeatures(service=svc)).put("missing_events", miss.strength / (miss.strength + 3.0), line, "spans:missing_events")
    for svc, blame in truncation_blame(index, onset).items():
        # Share of its calls that ended the request, discounted when only a handful were seen.
        share = blame.blamed / max(blame.calls, blame.blamed) * (1.0 - math.exp(-blame.blamed / 3.0))
        line = f"{blame.blamed} requests of {', '.join(blame.callers)} ended right after calling it ({share:.0%} of its incident calls)"
        feats.setdefault(svc, ServiceFeatures(service=svc)).put("calls_blamed", share, line, "spans:truncated_after")


def collect_features(
    *,
    graph: nx.DiGraph,
    index: SpanIndex,
    metrics: Sequence[MetricSample],
    triage: TriageReport,
    notes: list[str],
    model: DiagnosisModel = DEFAULT_MODEL,
    logs: Sequence[LogRecord] = (),
) -> tuple[dict[str, ServiceFeatures], datetime]:
    """Per-service features from spans and metrics around the onset; returns (features, onset)."""
    # The onset triage found in the data (searched from well before the alert); else the traces'
    # own best split over the whole record; else the start of the triage window.
    onset = triage.onset or _span_onset(index, notes, model) or triage.incident_window.start
    feats: dict[str, ServiceFeatures] = {n: ServiceFeatures(service=n) for n in graph.nodes}
    if len(index):
        _add_span_features(index, onset, triage.incident_window.start, feats, model, logs=logs, data_end=triage.incident_window.end)
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
    for svc, (score, line, ratio) in memory_growth(metrics, incident, baseline).items():
        f = feats.setdefault(svc, ServiceFeatures(service=svc))
        f.put("memory_growth", score, line, "metric:memory_growth")
        f.ratios["memory_growth"] = ratio
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


def _changed_service_onsets(changes: Sequence[Change], metrics: Sequence[MetricSample], anomaly: dict[str, float],
                            triage: TriageReport, model: DiagnosisModel) -> dict[str, datetime]:
    """When each changed, anomalous service's own metrics began to shift (before the alert): a change
    is the trigger only if it precedes its own service's symptoms."""
    changed = {c.service for c in changes if anomaly.get(c.service, 0.0) >= 0.3}
    if not changed or not metrics:
        return {}
    latest = (triage.alert_time or triage.incident_window.end) + timedelta(seconds=60)
    earliest = min(m.ts for m in metrics)
    out: dict[str, datetime] = {}
    for svc in sorted(changed):
        own = [m for m in metrics if m.service == svc]
        when, _ = metric_onset(own, earliest, latest, model.onset)
        if when is not None:
            out[svc] = when
    return out


@dataclass
class DependencyEvidence:
    """Everything the ranking needs, gathered once: the call graph, per-service features, the onset,
    the telemetry-less nodes that mirror a service, and notes about the input."""

    graph: nx.DiGraph
    features: dict[str, ServiceFeatures]
    onset: datetime | None
    mirrors: dict[str, tuple[str, float]] = field(default_factory=dict)
    notes: list[str] = field(default_factory=list)


def gather_evidence(
    *,
    topology: Topology,
    spans: Sequence[Span],
    metrics: Sequence[MetricSample],
    changes: Sequence[Change],
    triage: TriageReport,
    model: DiagnosisModel = DEFAULT_MODEL,
    index: SpanIndex | None = None,
    logs: Sequence[LogRecord] = (),
) -> DependencyEvidence:
    """The evidence stage of the dependency analysis (the expensive part): features from spans,
    metrics and changes on the call graph (`index`, when given, is the spans' index and `spans` are
    not read). Bad input ends up in notes."""
    notes: list[str] = []
    index = index if index is not None else index_spans(spans)
    graph, gnotes = build_call_graph(topology, index.edges, span_services(index))
    notes.extend(gnotes)
    notes.extend(index.notes)
    feats, onset = collect_features(graph=graph, index=index, metrics=metrics, triage=triage, notes=notes, model=model,
                                    logs=logs)
    if graph.number_of_nodes() == 0:
        return DependencyEvidence(graph=graph, features=feats, onset=None, notes=notes)
    symptomatic = [s for s, f in feats.items() if max(f.scores.values(), default=0.0) >= 0.5] or (
        [triage.alert_service] if triage.alert_service else []
    )
    anomaly = {n: max(symptom_score(f, model.rank), local_score(f, model.rank)) for n, f in feats.items()}
    for corr in correlate_changes(changes, onset, symptomatic, graph, until=triage.alert_time, anomaly=anomaly,
                                  service_onsets=_changed_service_onsets(changes, metrics, anomaly, triage, model),
                                  weights=model.changes):
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
    mirrors = mirror_targets(graph, metrics, anomaly, min_corr=model.rank.mirror_min_corr)
    for node, (target, corr) in mirrors.items():
        notes.append(f"{node} has no telemetry of its own and mirrors {target} (latency correlation {corr:.2f})")
    return DependencyEvidence(graph=graph, features=feats, onset=onset, mirrors=mirrors, notes=notes)


def rank_evidence(evidence: DependencyEvidence, triage: TriageReport, model: DiagnosisModel = DEFAULT_MODEL) -> DependencyReport:
    """The scoring stage (cheap): rank the services from gathered evidence with the model's weights."""
    graph, feats, notes = evidence.graph, evidence.features, list(evidence.notes)
    if graph.number_of_nodes() == 0:
        notes.append("no topology, spans or metrics: nothing to map")
        return DependencyReport(alert_service=triage.alert_service, notes=notes)
    ranked = rank_services(graph, feats, alert_service=triage.alert_service, mirrors=evidence.mirrors, model=model)
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


def map_dependencies(
    *,
    topology: Topology,
    spans: Sequence[Span],
    metrics: Sequence[MetricSample],
    changes: Sequence[Change],
    triage: TriageReport,
    model: DiagnosisModel = DEFAULT_MODEL,
    index: SpanIndex | None = None,
    logs: Sequence[LogRecord] = (),
) -> DependencyReport:
    """Map the incident onto the call graph and rank where the fault is; bad input ends up in notes.

    `logs` (optional) add their trace-stamped lines to the per-trace event sequences; `index`, when
    given, is the spans' index (a case folder's, read without span objects) and `spans` are not read."""
    evidence = gather_evidence(topology=topology, spans=spans, metrics=metrics, changes=changes, triage=triage, model=model, index=index,
                               logs=logs)
    return rank_evidence(evidence, triage, model)
