"""The coordinator's offline triage: decide the incident and baseline windows, the services in
focus and which agents work on the incident."""

from __future__ import annotations

from datetime import datetime, timedelta

from lumos.tools.domain import Alert, TimeWindow, Topology, TriageReport

DEFAULT_AGENTS = ("log_analyst", "dependency_mapper", "runbook_executor")


def incident_windows(
    alert_time: datetime,
    data_window: TimeWindow | None,
    *,
    onset_lookback_s: float = 120.0,
    default_baseline_s: float = 1800.0,
    default_tail_s: float = 600.0,
) -> tuple[TimeWindow, TimeWindow]:
    """Split the observable time range into (incident, baseline) windows.

    The fault usually starts shortly before an alert fires (alert rules have a `for:` delay),
    so the incident window opens `onset_lookback_s` before the alert; everything earlier
    is the fault-free baseline the agents compare against.
    """
    if data_window is None:
        data_window = TimeWindow(
            start=alert_time - timedelta(seconds=default_baseline_s),
            end=alert_time + timedelta(seconds=default_tail_s),
        )
    onset = alert_time - timedelta(seconds=onset_lookback_s)
    onset = min(max(onset, data_window.start), data_window.end)
    incident = TimeWindow(start=onset, end=max(data_window.end, onset))
    baseline = TimeWindow(start=data_window.start, end=onset)
    return incident, baseline


def triage(
    alert: Alert,
    topology: Topology,
    *,
    data_window: TimeWindow | None = None,
    onset_lookback_s: float = 120.0,
) -> TriageReport:
    """Offline triage of one alert: windows, focus services (alerting service and its callees)."""
    incident, baseline = incident_windows(alert.starts_at, data_window, onset_lookback_s=onset_lookback_s)
    notes: list[str] = []
    focus: list[str] = []
    known = set(topology.service_names())
    if alert.service:
        focus.append(alert.service)
        if known and alert.service not in known:
            notes.append(f"alerting service {alert.service!r} is not in the topology")
        focus.extend(sorted({e.callee for e in topology.calls if e.caller == alert.service} - set(focus)))
    else:
        notes.append("alert names no service: the whole topology is in focus")
    if baseline.seconds <= 0:
        notes.append("no baseline before the incident window: anomaly scores are less reliable")
    service_kind = topology.get(alert.service).kind if alert.service and topology.get(alert.service) else "service"
    return TriageReport(
        incident_window=incident,
        baseline_window=baseline,
        alert_service=alert.service,
        alert_time=alert.starts_at,
        focus_services=focus,
        severity=alert.severity,
        incident_class=f"{service_kind}:{alert.severity}",
        agents=list(DEFAULT_AGENTS),
        notes=notes,
    )
