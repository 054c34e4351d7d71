"""Blame passed through telemetry-less nodes (remote, client, load-balancer) to the service behind them."""

from datetime import datetime, timedelta, timezone

from lumos.agents.coordinator import triage
from lumos.agents.correlator import correlate
from lumos.agents.dependency_mapper import map_dependencies
from lumos.tools.domain import Alert, CallEdge, MetricSample, Service, TimeWindow, Topology
from lumos.tools.metrics.mirror import mirror_targets
from lumos.tools.topology.graph import build_call_graph

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
STEP = timedelta(minutes=5)


def _series(service: str, values: list[float], metric: str = "latency_avg_ms") -> list[MetricSample]:
    return [MetricSample(ts=T0 + i * STEP, service=service, metric=metric, value=v) for i, v in enumerate(values)]


def _shop() -> tuple[Topology, list[MetricSample]]:
    """A site calling a search service and, beside it, the load balancer in front of it (an external
    node with only client-side latency); the search service got slow in buckets 1-2."""
    topo = Topology(
        services=[Service(name="site", tier="edge"), Service(name="search"), Service(name="catalog"),
                  Service(name="lb-search_remote", kind="external"), Service(name="store", kind="database")],
        calls=[CallEdge(caller="site", callee="search"), CallEdge(caller="site", callee="catalog"),
               CallEdge(caller="site", callee="lb-search_remote"), CallEdge(caller="search", callee="store")],
    )
    metrics = (
        _series("site", [80, 100, 110, 90, 85, 82])
        + _series("search", [6, 16, 19, 7, 6, 6])
        + _series("lb-search_remote", [12, 101, 64, 22, 12, 12])  # the same shape, amplified
        + _series("catalog", [20, 19, 21, 20, 22, 20])
        + _series("store", [3, 3, 3.1, 3, 2.9, 3])
    )
    return topo, metrics


def test_external_node_mirrors_the_sibling_service_whose_latency_moves_with_it():
    topo, metrics = _shop()
    g, _ = build_call_graph(topo)
    symptom = {"site": 0.6, "search": 0.5, "lb-search_remote": 0.9, "catalog": 0.0, "store": 0.0}
    found = mirror_targets(g, metrics, symptom)
    assert set(found) == {"lb-search_remote"} and found["lb-search_remote"][0] == "search"
    assert found["lb-search_remote"][1] > 0.8
    # A service whose own latency did not move is never the one behind it, whatever its shape.
    assert mirror_targets(g, metrics, {**symptom, "search": 0.0}) == {}


def test_the_instrumented_service_outranks_its_load_balancer_end_to_end():
    topo, metrics = _shop()
    alert = Alert(fingerprint="f", name="SiteLatencyHigh", service="site", starts_at=T0 + STEP + timedelta(seconds=10))
    tri = triage(alert, topo, data_window=TimeWindow(start=T0, end=T0 + 6 * STEP))
    dep = map_dependencies(topology=topo, spans=[], metrics=metrics, changes=[], triage=tri)
    hyps = correlate(triage=tri, log_report=None, dependency_report=dep, topology=topo)
    assert hyps[0].service == "search"
    assert any(e.ref == "mirror:lb-search_remote" for e in hyps[0].evidence)
    # A client node in front of a service (drawn as its caller) hands its blame down the edge.
    topo2 = topo.model_copy(update={"services": [*topo.services, Service(name="search_client", kind="external")],
                                    "calls": [*topo.calls, CallEdge(caller="search_client", callee="search")]})
    g, _ = build_call_graph(topo2)
    client = _series("search_client", [5, 15, 18, 6, 5, 5])
    assert mirror_targets(g, metrics + client, {"search_client": 0.8, "search": 0.5})["search_client"][0] == "search"
