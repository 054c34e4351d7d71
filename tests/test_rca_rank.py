"""Root-cause ranking on small constructed incidents, end to end through map_dependencies and correlate."""

from datetime import datetime, timedelta, timezone

from lumos.agents.correlator import correlate
from lumos.agents.dependency_mapper import map_dependencies
from lumos.tools.domain import (
    CallEdge,
    Change,
    Evidence,
    LogReport,
    MetricSample,
    Service,
    ServiceSignal,
    Span,
    TimeWindow,
    Topology,
    TriageReport,
)
from lumos.tools.topology.graph import build_call_graph
from lumos.tools.topology.rank import path_support, rank_services
from lumos.tools.traces.features import ServiceFeatures

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
TOPO = Topology(
    services=[Service(name="web", tier="edge"), Service(name="api"), Service(name="db", kind="database"), Service(name="mail")],
    calls=[CallEdge(caller="web", callee="api"), CallEdge(caller="api", callee="db"), CallEdge(caller="web", callee="mail")],
)


def _triage(alert: str | None = "web") -> TriageReport:
    return TriageReport(
        incident_window=TimeWindow(start=T0 + timedelta(minutes=10), end=T0 + timedelta(minutes=13)),
        baseline_window=TimeWindow(start=T0, end=T0 + timedelta(minutes=10)),
        alert_service=alert,
    )


def _feats(**scores: dict[str, float]) -> dict[str, ServiceFeatures]:
    out = {}
    for svc, s in scores.items():
        f = ServiceFeatures(service=svc)
        for k, v in s.items():
            f.put(k, v, f"{k} {v}", f"test:{k}")
        out[svc] = f
    return out


def test_deepest_anomalous_service_wins_and_callers_are_explained():
    g, _ = build_call_graph(TOPO)
    feats = _feats(web={"latency": 0.9}, api={"latency": 0.9}, db={"latency": 0.9, "cpu": 0.9}, mail={"latency": 0.4})
    ranked = rank_services(g, feats, alert_service="web")
    assert ranked[0].service == "db" and ranked[0].fault_hints.get("cpu_saturation", 0) > 0.5
    assert {r.service for r in ranked} == {"web", "api", "db", "mail"}


def test_path_support_needs_anomalous_intermediates():
    g, _ = build_call_graph(TOPO)
    support = path_support(g, {"web": 1.0, "api": 0.1, "db": 0.9, "mail": 0.5}, "web")
    assert support["api"] == 1.0 and support["db"] == 0.1
    assert path_support(g, {}, None)["db"] == 1.0


def _metrics() -> list[MetricSample]:
    out = []
    for i in range(14):
        ts = T0 + timedelta(minutes=i)
        hot = i >= 10
        out.append(MetricSample(ts=ts, service="db", instance="db-0", metric="cpu_usage_pct", value=95.0 if hot else 2.0 + (i % 3) * 0.2))
        out.append(MetricSample(ts=ts, service="api", instance="api-0", metric="latency_p90_ms", value=400.0 if hot else 40.0 + i % 2))
        out.append(MetricSample(ts=ts, service="web", metric="latency_p50_ms", value=450.0 if hot else 50.0 + i % 2))
        out.append(MetricSample(ts=ts, service="mail", metric="cpu_usage_pct", value=3.0 + (i % 2) * 0.3))
    out.append(MetricSample(ts=T0, service="ghost", metric="weird_metric", value=1.0))
    return out


def test_map_dependencies_and_correlate_metrics_only():
    changes = [Change(ts=T0 + timedelta(minutes=8), service="db", kind="config", summary="pool size 5")]
    report = map_dependencies(topology=TOPO, spans=[], metrics=_metrics(), changes=changes, triage=_triage())
    assert report.ranking[0].service == "db"
    assert "web" in report.blast_radius and report.mermaid and "graph LR" in report.mermaid
    assert any("unknown metric" in n for n in report.notes)
    hyps = correlate(triage=_triage(), log_report=None, dependency_report=report, topology=TOPO)
    assert hyps[0].service == "db" and hyps[0].evidence and 0 <= hyps[0].confidence <= 1
    assert {h.service for h in hyps} >= {"web", "api", "db", "mail"}


def test_log_evidence_is_folded_in():
    report = map_dependencies(topology=TOPO, spans=[], metrics=[], changes=[], triage=_triage())
    logs = LogReport(
        services=[
            ServiceSignal(service="mail", score=0.9, kinds=["error_rate"], fault_hints={"error_injection": 0.9},
                          evidence=[Evidence(source="logs", summary="SMTP failures 0 -> 40/min", service="mail", weight=0.9)]),
            ServiceSignal(service="web", score=0.5, kinds=["error_rate"]),
        ]
    )
    hyps = correlate(triage=_triage(), log_report=logs, dependency_report=report, topology=TOPO)
    assert hyps[0].service == "mail" and hyps[0].fault_type.value == "error_injection"


def test_bad_input_never_crashes():
    spans = [
        Span(trace_id="t", span_id="a", parent_span_id="a", service="web", start=T0, duration_ms=5),
        Span(trace_id="t", span_id="b", parent_span_id="nope", service="stranger", start=T0, duration_ms=5),
        # a parent cycle inside one service whose span calls another service (no span reaches an entry)
        Span(trace_id="c", span_id="x", parent_span_id="y", service="web", start=T0, duration_ms=9),
        Span(trace_id="c", span_id="y", parent_span_id="x", service="web", start=T0, duration_ms=9),
        Span(trace_id="c", span_id="z", parent_span_id="x", service="api", start=T0, duration_ms=3),
    ]
    cyclic = Topology(calls=[CallEdge(caller="a", callee="b"), CallEdge(caller="b", callee="a"), CallEdge(caller="a", callee="a")])
    report = map_dependencies(topology=cyclic, spans=spans, metrics=[], changes=[], triage=_triage(alert="a"))
    text = " ".join(report.notes)
    assert "cycles" in text and "self-calls" in text and "parent" in text
    empty = map_dependencies(topology=Topology(), spans=[], metrics=[], changes=[], triage=_triage(alert=None))
    assert empty.ranking == [] and empty.notes
    assert correlate(triage=_triage(alert=None), log_report=None, dependency_report=empty, topology=Topology()) == []


def _error_traces() -> list[Span]:
    """web -> api -> db; from t=60 s db starts failing and api propagates the errors."""
    spans = []
    for i in range(60):
        t = T0 + timedelta(minutes=9, seconds=2 * i)
        bad = i >= 30
        st = "ERROR" if bad else "OK"
        tid = f"t{i}"
        spans += [
            Span(trace_id=tid, span_id="w", service="web", operation="GET /", start=t, duration_ms=40, status=st),
            Span(trace_id=tid, span_id="wc", parent_span_id="w", service="web", operation="call api", start=t, duration_ms=35, status=st),
            Span(trace_id=tid, span_id="a", parent_span_id="wc", service="api", operation="GET /x", start=t, duration_ms=30, status=st),
            Span(trace_id=tid, span_id="ac", parent_span_id="a", service="api", operation="call db", start=t, duration_ms=20, status=st),
            Span(trace_id=tid, span_id="d", parent_span_id="ac", service="db", operation="query", start=t, duration_ms=10 + (i % 3), status=st),
        ]
    return spans


def test_errors_that_originate_beat_errors_that_propagate():
    tri = TriageReport(
        incident_window=TimeWindow(start=T0 + timedelta(minutes=9, seconds=50), end=T0 + timedelta(minutes=11)),
        baseline_window=TimeWindow(start=T0 + timedelta(minutes=9), end=T0 + timedelta(minutes=9, seconds=50)),
        alert_service="web",
    )
    report = map_dependencies(topology=Topology(), spans=_error_traces(), metrics=[], changes=[], triage=tri)
    assert report.ranking[0].service == "db"
    signal = {s.service: s for s in report.services}["db"]
    assert "error_origin" in signal.kinds and signal.fault_hints.get("error_injection", 0) > 0.5
    assert any(n.startswith("onset from spans") for n in report.notes)


def test_recent_deploy_on_a_symptomatic_service_is_ranked_and_typed():
    metrics = [m for m in _metrics() if m.service != "db"]
    for i in range(14):
        metrics.append(MetricSample(ts=T0 + timedelta(minutes=i), service="mail", metric="latency_p90_ms", value=900.0 if i >= 10 else 30.0 + i % 2))
    changes = [Change(ts=T0 + timedelta(minutes=9), service="mail", kind="deploy", version="7.1")]
    report = map_dependencies(topology=TOPO, spans=[], metrics=metrics, changes=changes, triage=_triage())
    top = report.ranking[0]
    assert top.service == "mail" and top.fault_type.value == "bad_deploy"
    assert any(e.source == "changes" for e in top.evidence)


def test_caller_error_logs_are_explained_by_a_callee_at_fault():
    from lumos.tools.domain import DependencyReport, Hypothesis

    dep = DependencyReport(
        services=[ServiceSignal(service="db", score=0.6, kinds=["net_in"])],
        ranking=[Hypothesis(service="db", fault_type="network_delay", confidence=0.35)],
    )
    logs = LogReport(services=[ServiceSignal(service="api", score=0.6, kinds=["error_rate"], fault_hints={"error_injection": 0.6})])
    hyps = correlate(triage=_triage(), log_report=logs, dependency_report=dep, topology=TOPO)
    assert hyps[0].service == "db" and hyps[0].fault_type.value == "network_delay"
