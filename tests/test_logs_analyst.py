"""The log agent's offline analyzer: incident vs baseline, origin vs propagation, bounds, scale."""

import random
from datetime import datetime, timedelta, timezone

from lumos.agents.log_analyst import analyze_logs
from lumos.tools.domain import LogRecord, ServiceSignal, TimeWindow, TriageReport
from lumos.tools.logs.stats import decrease_strength, increase_strength, poisson_cdf, poisson_sf

T0 = datetime(2024, 5, 1, 12, 0, tzinfo=timezone.utc)
ONSET = T0 + timedelta(minutes=10)
END = T0 + timedelta(minutes=15)


def _triage() -> TriageReport:
    return TriageReport(
        incident_window=TimeWindow(start=ONSET, end=END), baseline_window=TimeWindow(start=T0, end=ONSET),
        alert_service="frontend", focus_services=["frontend", "checkout"],
    )


def _records(seed: int = 3, per_second: float = 2.0) -> list[LogRecord]:
    """frontend -> checkout -> inventory; inventory starts throwing at ONSET, checkout relays it."""
    rng = random.Random(seed)
    out: list[LogRecord] = []
    t = T0 - timedelta(minutes=2)  # some lines before the baseline: ignored
    n = 0
    while t < END + timedelta(minutes=1):  # and some after the incident window: ignored
        t += timedelta(seconds=rng.expovariate(per_second))
        n += 1
        trace = f"{n:032x}"
        faulty = ONSET <= t < END and rng.random() < 0.6
        out.append(LogRecord(ts=t, service="frontend", level="INFO", message=f"GET /checkout/{rng.randint(1, 999)} from 10.0.0.{rng.randint(1, 250)}", trace_id=trace))
        out.append(LogRecord(ts=t + timedelta(milliseconds=3), service="checkout", level="INFO", message=f"placing order o-{rng.randint(1000, 9999)}", trace_id=trace))
        if faulty:
            out.append(LogRecord(ts=t + timedelta(milliseconds=5), service="inventory", level="ERROR",
                                 message=f"java.lang.NullPointerException: reserve failed for sku {rng.randint(1, 99)}\n\tat com.shop.inventory.Reserve.run(Reserve.java:88)",
                                 trace_id=trace))
            out.append(LogRecord(ts=t + timedelta(milliseconds=9), service="checkout", level="ERROR",
                                 message=f"call to inventory failed: 500 Internal Server Error (HttpServerErrorException) order o-{rng.randint(1000, 9999)}",
                                 trace_id=trace))
        else:
            out.append(LogRecord(ts=t + timedelta(milliseconds=5), service="inventory", level=None,
                                 message=f"reserved sku {rng.randint(1, 99)} qty {rng.randint(1, 5)}", trace_id=trace))
        if rng.random() < 0.05:
            out.append(LogRecord(ts=t, service="frontend", level="WARN", message="slow client detected", trace_id=None))
    return out


def test_origin_ranks_above_propagation() -> None:
    report = analyze_logs(_records(), _triage())
    services = [s.service for s in report.services]
    assert services[0] == "inventory"
    assert "checkout" in services
    inventory, checkout = report.services[0], report.services[services.index("checkout")]
    assert inventory.score > checkout.score
    assert {"error_rate", "exception"} <= set(inventory.kinds)
    assert "propagated_errors" in checkout.kinds
    assert max(inventory.fault_hints, key=inventory.fault_hints.get) == "error_injection"
    assert report.indicators[0].service == "inventory" and 0 < report.indicators[0].confidence <= 1
    assert report.indicators[0].rationale


def test_evidence_is_bounded_and_points_back() -> None:
    report = analyze_logs(_records(), _triage(), max_evidence_per_service=2)
    for signal in report.services:
        assert len(signal.evidence) <= 2
        assert all(e.source == "logs" and e.ref for e in signal.evidence)
    assert any(e.ref.startswith("template:") for e in report.services[0].evidence)


def test_records_outside_windows_are_ignored() -> None:
    records = _records()
    report = analyze_logs(records, _triage())
    inside = sum(1 for r in records if T0 <= r.ts < END)
    assert report.lines_read == inside and report.lines_skipped == len(records) - inside


def test_quiet_system_reports_nothing_notable() -> None:
    rng = random.Random(1)
    records = [LogRecord(ts=T0 + timedelta(seconds=i * 0.5), service=f"svc{i % 3}", level="INFO",
                         message=f"handled request {rng.randint(1, 10**6)} in {rng.randint(5, 50)}ms") for i in range(1800)]
    report = analyze_logs(records, _triage())
    assert all(s.score < 0.3 for s in report.services)


def test_empty_and_short_baseline() -> None:
    assert analyze_logs([], _triage()).services == []
    no_baseline = TriageReport(incident_window=TimeWindow(start=T0, end=END), baseline_window=TimeWindow(start=T0, end=T0),
                               alert_service="frontend")
    report = analyze_logs(_records(), no_baseline)
    assert report.services and report.services[0].service == "inventory"
    assert any("baseline" in note for note in report.notes)


def test_forty_thousand_lines_rank_like_two_thousand() -> None:
    """Scale changes nothing but the counts (speed is measured in benchmarks/logs_analyst_speed.py)."""
    records = _records(seed=5, per_second=12.0)
    assert len(records) > 40_000
    report = analyze_logs(records, _triage())
    services = [s.service for s in report.services]
    assert services[0] == "inventory" and "checkout" in services
    assert "propagated_errors" in report.services[services.index("checkout")].kinds


def test_poisson_helpers() -> None:
    assert abs(poisson_cdf(2, 1.0) - 0.9196986) < 1e-6
    assert abs(poisson_sf(3, 1.0) - (1 - 0.9196986)) < 1e-6
    assert increase_strength(20, 2.0) > 6 and increase_strength(2, 2.0) == 0
    assert decrease_strength(0, 30.0) > 6 and decrease_strength(30, 30.0) == 0


def test_a_silent_callee_is_blamed_through_callers() -> None:
    rng = random.Random(9)
    records = []
    t = T0
    while t < END:
        t += timedelta(seconds=rng.expovariate(3.0))
        if t >= ONSET and rng.random() < 0.7:
            records.append(LogRecord(ts=t, service="checkout", level="ERROR",
                                     message=f"I/O error on POST request for \"http://payments:8080/api/charge/{rng.randint(1, 999)}\": Read timed out"))
        else:
            records.append(LogRecord(ts=t, service="checkout", level="INFO", message=f"order o-{rng.randint(1, 9999)} placed"))
    report = analyze_logs(records, _triage())
    by_name = {s.service: s for s in report.services}
    assert "payments" in by_name and "named_by_callers" in by_name["payments"].kinds
    assert "network_delay" in by_name["payments"].fault_hints
    assert "propagated_errors" in by_name["checkout"].kinds


def test_service_discovery_noise_is_not_blame() -> None:
    """"No instances available for X" bursts with registry refreshes: neither checkout's own
    errors nor evidence against the service it names."""
    rng = random.Random(11)
    records = []
    t = T0
    while t < END:
        t += timedelta(seconds=rng.expovariate(3.0))
        if t >= ONSET and rng.random() < 0.5:
            records.append(LogRecord(ts=t, service="checkout", level="ERROR",
                                     message="Servlet.service() threw exception [java.lang.IllegalStateException: No instances available for payments]"))
        else:
            records.append(LogRecord(ts=t, service="checkout", level="INFO", message=f"order o-{rng.randint(1, 9999)} placed"))
    report = analyze_logs(records, _triage())
    by_name = {s.service: s for s in report.services}
    assert "payments" not in by_name
    assert "error_rate" not in by_name.get("checkout", ServiceSignal(service="checkout", score=0.0)).kinds


def test_resource_wording_keeps_weight_and_names_the_fault() -> None:
    """Ordinary (INFO) lines about the service's own resources are not workload mix."""
    rng = random.Random(5)
    records = []
    t = T0
    while t < END:
        t += timedelta(seconds=rng.expovariate(3.0))
        records.append(LogRecord(ts=t, service="courier", level="INFO", message=f"delivered parcel p-{rng.randint(1, 9999)}"))
        if t >= ONSET and rng.random() < 0.4:
            records.append(LogRecord(ts=t, service="courier", level="INFO",
                                     message=f"[GC (Allocation Failure) pause {rng.randint(50, 400)}ms] heap {rng.randint(800, 990)}M used"))
    report = analyze_logs(records, _triage())
    courier = next(s for s in report.services if s.service == "courier")
    assert max(courier.fault_hints, key=courier.fault_hints.get) == "memory_pressure"
    assert courier.score > 0.15  # reported at all: workload-mix templates alone would not be
