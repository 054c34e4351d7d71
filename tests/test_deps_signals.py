"""Span trees, window comparison, onset detection, metric anomalies and change correlation."""

from datetime import datetime, timedelta, timezone

from lumos.tools.changes import change_suspicion, correlate_changes, recent_changes
from lumos.tools.domain import Change, MetricSample, Span, TimeWindow
from lumos.tools.metrics.anomaly import metric_anomalies, metric_kind, score_series, service_metric_anomalies
from lumos.tools.topology.graph import build_call_graph
from lumos.tools.domain import CallEdge, Topology
from lumos.tools.traces.compare import compare_spans
from lumos.tools.traces.onset import detect_onset
from lumos.tools.traces.spans import index_spans

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def make_traces(n: int, *, slow_after: int | None = None, delay_ms: float = 200.0) -> list[Span]:
    """n traces web -> api (client span) -> db server span; db gets slow from trace `slow_after` on."""
    spans = []
    for i in range(n):
        t = T0 + timedelta(seconds=2 * i)
        extra = delay_ms if slow_after is not None and i >= slow_after else 0.0
        db = 10.0 + (i % 3) + extra
        tid = f"t{i}"
        spans += [
            Span(trace_id=tid, span_id="a", service="web", operation="GET /", start=t, duration_ms=db + 30),
            Span(trace_id=tid, span_id="b", parent_span_id="a", service="web", operation="HTTP GET", start=t + timedelta(milliseconds=5), duration_ms=db + 20),
            Span(trace_id=tid, span_id="c", parent_span_id="b", service="db", operation="query", start=t + timedelta(milliseconds=10), duration_ms=db),
        ]
    return spans


def test_index_spans_self_time_gap_and_bad_parents():
    spans = make_traces(1) + [Span(trace_id="x", span_id="z", parent_span_id="missing", service="web", start=T0, duration_ms=1)]
    idx = index_spans(spans + spans[:1])
    facts = {(f.span.trace_id, f.span.span_id): f for f in idx.facts}
    assert facts[("t0", "b")].gap_ms > 0 and facts[("t0", "b")].self_ms == 0
    assert facts[("t0", "c")].is_entry and facts[("t0", "c")].self_ms == 10.0
    assert idx.edges == {("web", "db"): 1}
    assert any("parent" in n for n in idx.notes) and any("repeat" in n for n in idx.notes)


def test_compare_blames_db_self_time_and_onset_is_found():
    spans = make_traces(60, slow_after=30)
    idx = index_spans(spans)
    shifts = compare_spans(idx, T0 + timedelta(seconds=60))
    assert shifts["db"].self_time is not None and shifts["db"].self_time.z > 5
    assert shifts["web"].self_time is None or shifts["web"].self_time.z < 2
    onset, strength = detect_onset(idx, earliest=T0, latest=T0 + timedelta(seconds=110))
    assert onset is not None and abs((onset - (T0 + timedelta(seconds=60))).total_seconds()) <= 10
    assert strength > 0
    assert detect_onset(index_spans([]), earliest=T0, latest=T0 + timedelta(seconds=100)) == (None, 0.0)


def _series(metric: str, values: list[float], service: str = "api") -> list[MetricSample]:
    return [MetricSample(ts=T0 + timedelta(minutes=i), service=service, metric=metric, value=v) for i, v in enumerate(values)]


def test_metric_scoring_directions_and_notes():
    inc = TimeWindow(start=T0 + timedelta(minutes=10), end=T0 + timedelta(minutes=13))
    base = TimeWindow(start=T0, end=inc.start)
    cpu = score_series(_series("cpu_usage_pct", [1, 1.2, 0.9, 1.1, 1, 1, 1.2, 0.8, 1, 1, 95, 96, 97]), inc, base)
    assert cpu is not None and cpu.kind == "cpu" and cpu.score > 0.9
    avail = score_series(_series("availability_pct", [100] * 10 + [97, 96, 97]), inc, base)
    assert avail is not None and avail.kind == "errors" and avail.z > 5
    calm = score_series(_series("latency_p90_ms", [50, 52, 49, 51, 50, 50, 51, 49, 50, 52, 50, 51, 50]), inc, base)
    assert calm is not None and calm.score < 0.2
    assert metric_kind("frobnication") == ("other", 0)
    anomalies, notes = metric_anomalies(_series("frobnication", [1, 2]) + _series("cpu_usage_pct", [1] * 13, "x"), inc, base)
    assert any("unknown metric" in n for n in notes) and any("lack samples" in n for n in notes)
    assert "x" in service_metric_anomalies(anomalies)
    empty = TimeWindow(start=T0, end=T0)
    assert metric_anomalies([], inc, empty)[1] == ["no metric samples"]


def test_changes_recent_and_correlated():
    changes = [
        Change(ts=T0 - timedelta(minutes=5), service="api", kind="deploy", version="2"),
        Change(ts=T0 - timedelta(hours=3), service="db", kind="config"),
        Change(ts=T0 + timedelta(hours=1), service="api", kind="scale"),
    ]
    got = recent_changes(changes, ["api"], TimeWindow(start=T0 - timedelta(hours=1), end=T0))
    assert [c.kind for c in got] == ["deploy"]
    g, _ = build_call_graph(Topology(calls=[CallEdge(caller="web", callee="api"), CallEdge(caller="api", callee="db")]))
    corr = correlate_changes(changes, T0, ["web"], g)
    assert corr[0].change.service == "api" and corr[0].distance == 1 and corr[0].suspicion > corr[1].suspicion
    assert change_suspicion(10, None) == 0.0 and change_suspicion(-3600, 0) == 0.0


def test_service_anomalies_and_sources(tmp_path):
    from lumos.tools.metrics.anomaly import service_anomalies
    from lumos.tools.metrics.source import CsvMetricSource, MemoryMetricSource

    inc = TimeWindow(start=T0 + timedelta(minutes=10), end=T0 + timedelta(minutes=13))
    base = TimeWindow(start=T0, end=inc.start)
    samples = _series("cpu_usage_pct", [1.0] * 10 + [90, 90, 90]) + _series("cpu_usage_pct", [1.0] * 13, "other")
    got = service_anomalies(samples, "api", inc, base, min_score=0.5)
    assert [a.service for a in got] == ["api"]
    csv = tmp_path / "metrics.csv"
    csv.write_text("ts,service,instance,metric,value\n" + "".join(f"{s.ts.isoformat()},{s.service},,{s.metric},{s.value}\n" for s in samples))
    whole = TimeWindow(start=T0, end=T0 + timedelta(hours=1))
    assert len(CsvMetricSource(csv).samples(whole, services=["api"])) == 13
    assert CsvMetricSource(tmp_path / "missing.csv").samples(whole) == []
    assert len(MemoryMetricSource(samples).samples(inc, metrics=["cpu_usage_pct"])) == 6


def test_edge_metrics_point_at_the_common_callee():
    from lumos.tools.traces.features import ServiceFeatures, edge_metric_features, split_edge

    inc = TimeWindow(start=T0 + timedelta(minutes=10), end=T0 + timedelta(minutes=13))
    base = TimeWindow(start=T0, end=inc.start)
    samples = []
    for caller, callee, slow in (("web", "cart", True), ("checkout", "cart", True), ("web", "ads", False), ("checkout", "pay", False)):
        vals = [5.0 + (i % 2) for i in range(10)] + ([250.0] * 3 if slow else [5.0, 6.0, 5.0])
        samples += [MetricSample(ts=T0 + timedelta(minutes=i), service=caller, instance=f"{caller}->{callee}", metric="client_call_latency_p50_ms", value=v) for i, v in enumerate(vals)]
    anomalies, _ = metric_anomalies(samples, inc, base)
    feats: dict[str, ServiceFeatures] = {}
    edge_metric_features(anomalies, feats)
    assert feats["cart"].scores["net_in"] > 0.5
    assert feats["web"].scores.get("net_out", 0) < feats["cart"].scores["net_in"]
    assert split_edge("a->b") == ("a", "b") and split_edge("pod-1") is None and split_edge("a->a") is None


def test_requests_that_stop_early_blame_the_last_callee():
    from lumos.tools.traces.patterns import truncation_blame

    spans = []
    for i in range(20):
        t = T0 + timedelta(seconds=3 * i)
        tid = f"t{i}"
        broken = i >= 10
        spans.append(Span(trace_id=tid, span_id="e", service="front", operation="GET /", start=t, duration_ms=50))
        calls = ["auth"] if broken else ["auth", "cart"]
        for j, callee in enumerate(calls):
            st = t + timedelta(milliseconds=5 + 10 * j)
            spans.append(Span(trace_id=tid, span_id=f"c{j}", parent_span_id="e", service="front", operation="call", start=st, duration_ms=8))
            spans.append(Span(trace_id=tid, span_id=f"s{j}", parent_span_id=f"c{j}", service=callee, operation="serve", start=st, duration_ms=5))
    blame = truncation_blame(index_spans(spans), T0 + timedelta(seconds=30))
    assert set(blame) == {"auth"} and blame["auth"].blamed == 10 and blame["auth"].callers == ("front",)


def test_gap_outliers_find_a_delayed_service_without_a_baseline():
    from lumos.tools.traces.compare import gap_outliers
    from lumos.tools.traces.features import ServiceFeatures, gap_outlier_features

    spans = []
    callees = ["a", "b", "c", "d", "slow"]
    for i in range(30):
        t = T0 + timedelta(seconds=i)
        tid = f"t{i}"
        spans.append(Span(trace_id=tid, span_id="r", service="gw", operation="GET", start=t, duration_ms=900))
        for j, callee in enumerate(callees):
            gap = 400.0 if callee == "slow" else 3.0 + (i + j) % 3
            spans.append(Span(trace_id=tid, span_id=f"c{j}", parent_span_id="r", service="gw", operation=f"call {callee}", start=t, duration_ms=10 + gap))
            spans.append(Span(trace_id=tid, span_id=f"s{j}", parent_span_id=f"c{j}", service=callee, operation="serve", start=t, duration_ms=10))
    idx = index_spans(spans)
    outliers = gap_outliers(idx, T0)  # every span is after the onset: no baseline at all
    assert [(o.caller, o.callee) for o in outliers] == [("gw", "slow")]
    feats: dict[str, ServiceFeatures] = {}
    gap_outlier_features(outliers, feats, idx.edges)
    assert feats["slow"].scores["net_in"] > 0.7 > feats["gw"].scores["net_out"]


def _fanout_traces(n: int, calls_of, *, onset_at: int) -> list[Span]:
    """n requests of `front` calling `calls_of(i, after)` distinct callees each (server spans only)."""
    spans = []
    for i in range(n):
        t = T0 + timedelta(seconds=2 * i)
        callees = calls_of(i, i >= onset_at)
        spans.append(Span(trace_id=f"t{i}", span_id="a", service="front", operation="GET /", start=t, duration_ms=50.0))
        for k, callee in enumerate(callees):
            spans.append(Span(trace_id=f"t{i}", span_id=f"c{k}", parent_span_id="a", service=callee, operation="op",
                              start=t + timedelta(milliseconds=5 + 10 * k), duration_ms=5.0))
    return spans


def test_fewer_calls_per_request_need_significance():
    from lumos.tools.traces.features import ServiceFeatures, span_features

    # Every request made 3 calls, then 1: a clear change (many requests, no variation).
    clear = compare_spans(index_spans(_fanout_traces(80, lambda i, after: ["x"] if after else ["x", "y", "z"], onset_at=40)),
                          T0 + timedelta(seconds=80))["front"]
    assert clear.calls_out < -0.5 and clear.calls_out_z < -4
    # Call counts varying 0-3 at random with a handful of incident requests: a -40% mean is chance.
    pattern = [3, 0, 2, 0, 3, 1, 0, 3, 2, 1]
    noisy = compare_spans(index_spans(_fanout_traces(44, lambda i, after: ["x", "y", "z"][:pattern[i % 10] if not after else (0, 1, 2, 1)[i % 4]],
                                                     onset_at=40)), T0 + timedelta(seconds=80))["front"]
    assert noisy.calls_out < -0.05 and -2 < noisy.calls_out_z < 0
    f_clear, f_noisy = ServiceFeatures(service="front"), ServiceFeatures(service="front")
    span_features(clear, f_clear)
    span_features(noisy, f_noisy)
    assert f_clear.scores["calls_changed"] > 0.9 and "calls_changed" not in f_noisy.scores


def test_a_slow_caller_keeps_its_slower_outgoing_calls():
    from lumos.tools.traces.compare import Shift
    from lumos.tools.traces.features import ServiceFeatures, edge_side_attribution
    from lumos.tools.topology.rank import local_score

    slow, ok = Shift(z=8.0, ratio=4.0, n_base=20, n_inc=20), Shift(z=0.1, ratio=1.0, n_base=20, n_inc=20)
    # `c` got slow itself: both its outgoing edges slowed, while x and y's other callers are fine.
    edges = {("c", "x"): slow, ("c", "y"): slow, ("d", "x"): ok, ("e", "y"): ok, ("b", "c"): ok}
    feats = {n: ServiceFeatures(service=n) for n in "bcdexy"}
    for n in "xy":
        feats[n].put("net_in", 0.6, "network gap on calls into it", "spans:gap_in")
    feats["c"].put("net_out", 0.8, "network gap on its outgoing calls", "spans:gap_out")
    feats["c"].observed.add("net_in")
    guarded = local_score(feats["c"])
    edge_side_attribution(edges, feats, shift_z=3.0)
    assert feats["c"].net_out_own > 0.3 and local_score(feats["c"]) > guarded
    assert feats["x"].scores["net_in"] < 0.6 and local_score(feats["c"]) > local_score(feats["x"])
    # A delayed callee: all its callers' edges slowed, each caller's other edge is fine -> its net_in is kept.
    edges = {("c", "x"): slow, ("d", "x"): slow, ("c", "y"): ok, ("d", "z"): ok}
    feats = {n: ServiceFeatures(service=n) for n in "cdxyz"}
    feats["x"].put("net_in", 0.6, "network gap on calls into it", "spans:gap_in")
    edge_side_attribution(edges, feats, shift_z=3.0)
    assert feats["x"].scores["net_in"] == 0.6 and feats["c"].net_out_own == 0.0
