"""The coordinator's offline triage: decide the incident and baseline windows, the services in
focus and which agents work on the incident."""

from __future__ import annotations

from collections.abc import Sequence
from datetime import datetime, timedelta
from typing import Protocol

from lumos.tools.diagnosis_model import DEFAULT_MODEL, DiagnosisModel
from lumos.tools.domain import Alert, MetricSample, Span, TimeWindow, Topology, TriageReport
from lumos.tools.onset import OnsetEstimate, find_onset
from lumos.tools.traces.spans import span_index_of

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


def onset_windows(onset: datetime, data_window: TimeWindow | None, *, margin_s: float, default_baseline_s: float = 1800.0,
                  default_tail_s: float = 600.0) -> tuple[TimeWindow, TimeWindow]:
    """(incident, baseline) around an onset found in the data: the incident window opens `margin_s`
    before it (the detector's resolution), everything earlier is the baseline."""
    if data_window is None:
        data_window = TimeWindow(start=onset - timedelta(seconds=default_baseline_s), end=onset + timedelta(seconds=default_tail_s))
    start = min(max(onset - timedelta(seconds=margin_s), data_window.start), data_window.end)
    return TimeWindow(start=start, end=max(data_window.end, start)), TimeWindow(start=data_window.start, end=start)


class TriageSources(Protocol):
    """What triage reads from the incident's data sources (a case folder or live backends)."""

    topology: Topology
    spans: Sequence[Span]
    metrics: Sequence[MetricSample]

    def window(self) -> TimeWindow | None: ...


def triage_from_sources(alert: Alert, sources: TriageSources, *, model: DiagnosisModel = DEFAULT_MODEL) -> TriageReport:
    """Triage with the onset found in the data (traces, else metrics) up to `max_alert_delay_s`
    before the alert, so that a late alert still gets a window around the real onset."""
    window = sources.window()
    index = span_index_of(sources)  # a case folder's own index: no span objects are built
    estimate = find_onset(alert_time=alert.starts_at, data_window=window, index=index if len(index) else None, metrics=sources.metrics, w=model.onset)
    return triage(alert, sources.topology, data_window=window, onset_lookback_s=model.onset.alert_lookback_s, onset=estimate,
                  margin_s=model.onset.margin_s)


def triage(
    alert: Alert,
    topology: Topology,
    *,
    data_window: TimeWindow | None = None,
    onset_lookback_s: float = 120.0,
    onset: OnsetEstimate | None = None,
    margin_s: float = DEFAULT_MODEL.onset.margin_s,
) -> TriageReport:
    """Offline triage of one alert: windows (around the onset found in the data when there is one,
    else opening `onset_lookback_s` before the alert), focus services (alerting service and its callees)."""
    notes: list[str] = []
    if onset is not None and onset.time is not None:
        # The alert bounds the onset from above (rules fire a while after a fault starts) and the
        # data estimates it: the window opens at the earlier of the two, so neither a late alert nor
        # an onset the detector dates late leaves the first faulty minutes in the baseline.
        start = min(onset.time - timedelta(seconds=margin_s), alert.starts_at - timedelta(seconds=onset_lookback_s))
        incident, baseline = onset_windows(start, data_window, margin_s=0.0)
        lag = (alert.starts_at - onset.time).total_seconds()
        notes.append(f"onset found in the {onset.source} at {onset.time.isoformat(timespec='seconds')} ({lag:.0f} s before the alert)")
    else:
        incident, baseline = incident_windows(alert.starts_at, data_window, onset_lookback_s=onset_lookback_s)
        if onset is not None:
            notes.append(f"no onset found in the data: the incident window opens {onset_lookback_s:.0f} s before the alert")
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
        onset=onset.time if onset is not None else None,
        onset_source=onset.source if onset is not None and onset.time is not None else "alert",
        focus_services=focus,
        severity=alert.severity,
        incident_class=f"{service_kind}:{alert.severity}",
        agents=list(DEFAULT_AGENTS),
        notes=notes,
    )
