"""Among concurrent changes, the trigger: on the symptom paths, and just before its service's own symptoms."""

from datetime import datetime, timedelta, timezone

from lumos.agents.coordinator import triage_from_sources
from lumos.agents.correlator import correlate
from lumos.agents.dependency_mapper import map_dependencies
from lumos.tools.domain import Alert, CallEdge, Change, MetricSample, Service, TimeWindow, Topology
from lumos.tools.changes import correlate_changes
from lumos.tools.topology.graph import build_call_graph

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
ONSET = T0 + timedelta(minutes=30)
TOPO = Topology(
    services=[Service(name="web", tier="edge"), Service(name="api"), Service(name="search"), Service(name="cart"),
              Service(name="db", kind="database")],
    calls=[CallEdge(caller="web", callee="api"), CallEdge(caller="web", callee="search"), CallEdge(caller="web", callee="cart"),
           CallEdge(caller="api", callee="db")],
)
CHANGES = [
    Change(ts=ONSET - timedelta(minutes=2), service="search", kind="deploy", version="7"),  # closest in time, but off the symptoms
    Change(ts=ONSET - timedelta(minutes=6), service="api", kind="deploy", version="3"),  # the trigger
    Change(ts=ONSET - timedelta(minutes=90), service="cart", kind="config"),  # long before anything
    Change(ts=ONSET + timedelta(minutes=3), service="db", kind="deploy", version="9"),  # after db's own symptoms began
]


class _Sources:
    """A live-like source: metrics and changes, no spans or logs."""

    def __init__(self) -> None:
        self.topology = TOPO
        self.spans: list = []
        self.logs: list = []
        self.changes = CHANGES
        self.metrics = []
        for minute in range(45):
            ts = T0 + timedelta(minutes=minute)
            bad = minute >= 30
            noise = (minute * 7919 % 11) / 11.0
            for svc, base, faulty in (("web", 90.0, 240.0), ("api", 40.0, 180.0), ("db", 5.0, 9.0), ("search", 30.0, 30.0), ("cart", 20.0, 20.0)):
                self.metrics.append(MetricSample(ts=ts, service=svc, metric="latency_p90_ms", value=(faulty if bad else base) + 2 * noise))
            self.metrics.append(MetricSample(ts=ts, service="api", metric="error_rate", value=(0.2 if bad else 0.001) + 0.001 * noise))

    def window(self) -> TimeWindow:
        return TimeWindow(start=T0, end=T0 + timedelta(minutes=45))


def test_the_change_on_the_symptom_path_that_precedes_its_service_symptoms_wins():
    g, _ = build_call_graph(TOPO)
    anomaly = {"web": 0.8, "api": 0.9, "db": 0.5, "search": 0.0, "cart": 0.0}
    corr = correlate_changes(CHANGES, ONSET, ["web", "api", "db"], g, until=ONSET + timedelta(minutes=5), anomaly=anomaly,
                             service_onsets={"api": ONSET, "db": ONSET})
    by_service = {c.change.service: c.suspicion for c in corr}
    assert corr[0].change.service == "api"
    # The deploy closest to the onset lies off the symptoms; db's deploy came after db was failing.
    assert by_service["search"] < 0.5 * by_service["api"] and by_service["db"] == 0.0
    assert by_service["cart"] < 0.1


def test_end_to_end_the_bad_release_is_named_among_concurrent_releases():
    sources = _Sources()
    alert = Alert(fingerprint="f", name="WebLatencyHigh", service="web", starts_at=ONSET + timedelta(minutes=5))
    tri = triage_from_sources(alert, sources)
    assert tri.onset is not None and abs((tri.onset - ONSET).total_seconds()) <= 60
    dep = map_dependencies(topology=TOPO, spans=[], metrics=sources.metrics, changes=CHANGES, triage=tri)
    hyps = correlate(triage=tri, log_report=None, dependency_report=dep, topology=TOPO)
    assert hyps[0].service == "api" and hyps[0].fault_type == "bad_deploy"
    assert [h.service for h in hyps].index("search") > 1
