"""Fault-type inference from evidence features, and the derived edge-gap series."""

from datetime import datetime, timedelta, timezone

from lumos.tools.domain import MetricSample
from lumos.tools.metrics.derive import edge_gap_series
from lumos.tools.topology.fault_types import infer_fault_type
from lumos.tools.traces.features import ServiceFeatures

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _f(**scores: float) -> ServiceFeatures:
    f = ServiceFeatures(service="svc")
    for k, v in scores.items():
        f.put(k, v, k, f"test:{k}")
    return f


def _top(hints: dict[str, float]) -> str:
    return max(hints, key=hints.get)


def test_cpu_beats_network_when_the_service_itself_got_slower():
    assert _top(infer_fault_type(_f(cpu=0.9, net_in=0.9))) == "cpu_saturation"
    assert _top(infer_fault_type(_f(self_time=0.9, net_in=0.8))) == "cpu_saturation"
    assert _top(infer_fault_type(_f(net_in=0.9, latency=0.8))) == "network_delay"


def test_memory_only_when_it_stands_out_and_other_kinds():
    assert _top(infer_fault_type(_f(memory=0.9))) == "memory_pressure"
    assert _top(infer_fault_type(_f(memory=0.8, cpu=0.7))) == "cpu_saturation"
    assert _top(infer_fault_type(_f(calls_changed=0.9))) == "error_injection"
    assert _top(infer_fault_type(_f(change_deploy=0.8, latency=0.9))) == "bad_deploy"
    assert _top(infer_fault_type(_f(latency=0.9, traffic=0.9), kind="database")) == "resource_exhaustion"
    assert infer_fault_type(_f(errors=0.9)) == {}  # symptoms alone name no fault type: the diagnosis says unknown
    assert infer_fault_type(None) == {} and infer_fault_type(_f()) == {}


def test_edge_gap_pairs_client_and_server_views():
    samples = [
        MetricSample(ts=T0, service="web", instance="web->cart", metric="client_call_latency_p50_ms", value=250.0),
        MetricSample(ts=T0, service="cart", instance="web->cart", metric="call_latency_p50_ms", value=3.0),
        MetricSample(ts=T0 + timedelta(minutes=1), service="web", instance="web->cart", metric="client_call_latency_p50_ms", value=5.0),
        MetricSample(ts=T0, service="web", instance="web-0", metric="client_latency_p90_ms", value=9.0),
    ]
    gaps = edge_gap_series(samples)
    assert len(gaps) == 1 and gaps[0].service == "cart" and abs(gaps[0].value - 250.1 / 3.1) < 1e-9
    assert gaps[0].metric == "edge_gap_ratio_call_latency_p50_ms"


def test_timeouts_datastores_restarts_and_flat_cpu():
    from lumos.tools.metrics.anomaly import metric_kind

    assert _top(infer_fault_type(_f(error_origin=0.9, latency=0.9))) == "network_loss"
    assert _top(infer_fault_type(_f(error_origin=0.9))) == "error_injection"
    assert _top(infer_fault_type(_f(error_origin=0.9), kind="database")) == "dependency_outage"
    assert _top(infer_fault_type(_f(restarts=0.9, errors=0.5))) == "crash_loop"
    assert metric_kind("container_restarts_total") == ("restarts", 1)
    assert metric_kind("db_connection_pool_in_use") == ("pool", 1)
    assert metric_kind("cartservice_mem") == ("memory", 1) and metric_kind("node_memory_usage_pct")[0] == "node_memory"
    assert metric_kind("workload") == ("traffic", 0) and metric_kind("some_gauge") == ("other", 0)
    assert metric_kind("mem-usage") == ("memory", 1) and metric_kind("mem") == ("memory", 1)
    assert metric_kind("memcached_get_latency_ms") == ("latency", 1) and metric_kind("memcache_errors_total") == ("errors", 1)
    assert metric_kind("kafka_member_count") == ("other", 0) and metric_kind("memcached_current_connections") == ("pool", 1)
    flat = _f(self_time=0.9)
    flat.observed.add("cpu")
    assert _top(infer_fault_type(flat)) == "network_delay"
    assert _top(infer_fault_type(_f(self_time=0.9))) == "cpu_saturation"


def test_restarts_with_memory_growth_are_memory_pressure():
    assert _top(infer_fault_type(_f(restarts=0.9, memory=0.8))) == "memory_pressure"
    assert _top(infer_fault_type(_f(restarts=0.9))) == "crash_loop"
    assert _top(infer_fault_type(_f(restarts=0.9, memory=0.1))) == "crash_loop"


def _flat_cpu(**scores: float) -> ServiceFeatures:
    f = _f(**scores)
    f.observed.add("cpu")  # CPU was measured and did not move
    return f


def test_flat_cpu_own_latency_is_starvation_unless_calls_out_slowed():
    # Latency the service measures itself rose, CPU usage flat, calls out unchanged: starvation
    # (contention/throttling) that the container's usage cannot show; a network delay into it
    # only widens the gap around it.
    assert _top(infer_fault_type(_flat_cpu(server_latency=0.95, net_in=0.9))) == "cpu_saturation"
    # Its outgoing calls got slower too: it is waiting on the network.
    assert _top(infer_fault_type(_flat_cpu(server_latency=0.9, net_out=0.95))) == "network_delay"
    # Span self time alone with flat CPU: likelier waiting on something untraced.
    assert _top(infer_fault_type(_flat_cpu(self_time=0.9, net_out=0.2))) == "network_delay"


def test_symptoms_without_a_footprint_name_no_fault_type():
    # Only symptoms (latency, errors) and noise: whether CPU was measured or not, the evidence does
    # not say which kind of fault it is, so no type is named (the hypothesis says `unknown`).
    assert infer_fault_type(_flat_cpu(latency=0.8, net_in=0.01)) == {}
    assert infer_fault_type(_f(errors=0.9, net_in=0.01)) == {}


def _with_ratios(scores: dict[str, float], ratios: dict[str, float]) -> ServiceFeatures:
    f = _f(**scores)
    f.ratios.update(ratios)
    return f


def test_memory_pressure_against_cpu_saturation_by_which_resource_moved_further():
    # A CPU hog: CPU x12 while memory creeps up x1.5 (a busy process allocates): CPU saturation,
    # even though memory climbed steadily.
    hog = _with_ratios({"cpu": 0.95, "memory": 0.2, "memory_growth": 0.9}, {"cpu": 12.0, "memory": 1.5, "memory_growth": 1.6})
    assert _top(infer_fault_type(hog)) == "cpu_saturation"
    # A leak: memory x4 and still climbing, CPU up x1.5 from garbage collection: memory pressure.
    leak = _with_ratios({"cpu": 0.6, "memory": 0.9, "memory_growth": 0.9}, {"cpu": 1.5, "memory": 4.0, "memory_growth": 5.0})
    assert _top(infer_fault_type(leak)) == "memory_pressure"
    # Memory alone moved (CPU measured flat): memory pressure.
    alone = _with_ratios({"memory": 0.8}, {"memory": 3.0})
    alone.observed.add("cpu")
    assert _top(infer_fault_type(alone)) == "memory_pressure"
    # CPU alone moved: CPU saturation.
    assert _top(infer_fault_type(_with_ratios({"cpu": 0.9}, {"cpu": 8.0, "memory": 1.02}))) == "cpu_saturation"
