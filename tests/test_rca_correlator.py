"""The correlator's merge of log and dependency evidence on small constructed reports."""

from datetime import datetime, timezone

from lumos.agents.correlator import correlate
from lumos.tools.domain import DependencyReport, Hypothesis, LogReport, ServiceSignal, TimeWindow, Topology, TriageReport
from lumos.tools.logs.signals import fault_hints, is_discovery_failure

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _triage() -> TriageReport:
    w = TimeWindow(start=T0, end=T0)
    return TriageReport(incident_window=w, baseline_window=w, alert_service="api")


def _topology() -> Topology:
    return Topology.model_validate({
        "services": [{"name": "api"}, {"name": "orders"}, {"name": "stock"}],
        "calls": [{"caller": "api", "callee": "orders"}, {"caller": "orders", "callee": "stock"}],
    })


def _dep(signals: list[ServiceSignal]) -> DependencyReport:
    ranking = [Hypothesis(service=s.service, fault_type="error_injection", confidence=s.score) for s in signals]
    return DependencyReport(services=signals, ranking=ranking, alert_service="api")


def test_fault_types_agreeing_across_reports_add_up():
    dep = _dep([ServiceSignal(service="orders", score=0.6, kinds=["net_out"], fault_hints={"network_delay": 0.8, "network_loss": 0.7})])
    logs = LogReport(services=[ServiceSignal(service="orders", score=0.4, kinds=["new_template"], fault_hints={"network_loss": 0.5})])
    top = correlate(triage=_triage(), log_report=logs, dependency_report=dep, topology=_topology())[0]
    assert top.service == "orders" and top.fault_type.value == "network_loss"


def test_own_resource_wording_is_not_explained_by_a_callee():
    dep = _dep([
        ServiceSignal(service="orders", score=0.5, kinds=["memory"], fault_hints={"memory_pressure": 0.5}),
        ServiceSignal(service="stock", score=0.5, kinds=["net_in"], fault_hints={"network_delay": 0.7}),
    ])
    gc = LogReport(services=[ServiceSignal(service="orders", score=0.6, kinds=["new_template"], fault_hints={"memory_pressure": 0.6})])
    generic = LogReport(services=[ServiceSignal(service="orders", score=0.6, kinds=["latency"], fault_hints={"network_delay": 0.4})])
    # Raw ranking scores (calibration maps the top one to a probability of being right).
    with_gc = correlate(triage=_triage(), log_report=gc, dependency_report=dep, topology=_topology(), calibrate=False)
    with_generic = correlate(triage=_triage(), log_report=generic, dependency_report=dep, topology=_topology(), calibrate=False)
    assert with_gc[0].service == "orders" and with_gc[0].fault_type.value == "memory_pressure"
    # generic slowness in orders' logs is explained by its slow callee; GC wording is not
    conf = lambda hyps: next(h.confidence for h in hyps if h.service == "orders")  # noqa: E731
    assert conf(with_gc) > conf(with_generic) + 0.1


def test_wording_signals():
    assert is_discovery_failure("java.lang.IllegalStateException: No instances available for ts-price-service")
    assert not is_discovery_failure("connection refused to payments:8080")
    assert "resource_exhaustion" in fault_hints("executor saturated: active=8 queued=200 rejected=14")
    assert "network_loss" in fault_hints("retransmitting segment to 10.0.0.4 (retry 3)")


def test_confidences_are_calibrated_probabilities_in_rank_order():
    dep = _dep([
        ServiceSignal(service="orders", score=0.8, kinds=["cpu"], fault_hints={"cpu_saturation": 0.8}),
        ServiceSignal(service="stock", score=0.2, kinds=["latency"], fault_hints={}),
    ])
    raw = correlate(triage=_triage(), log_report=None, dependency_report=dep, topology=_topology(), calibrate=False)
    hyps = correlate(triage=_triage(), log_report=None, dependency_report=dep, topology=_topology())
    assert [h.service for h in hyps] == [h.service for h in raw]
    conf = [h.confidence for h in hyps]
    assert conf == sorted(conf, reverse=True) and sum(conf) <= 1.0 + 1e-6
    # A clearer lead over the runner-up is likelier right.
    close = _dep([ServiceSignal(service="orders", score=0.8, kinds=["cpu"], fault_hints={}),
                  ServiceSignal(service="stock", score=0.75, kinds=["cpu"], fault_hints={})])
    tight = correlate(triage=_triage(), log_report=None, dependency_report=close, topology=_topology())
    assert tight[0].confidence < hyps[0].confidence
