"""Onset found in the data and the analysis window placed around it, whatever the alert's delay;
memory growth read from metrics."""

from datetime import datetime, timedelta, timezone

import pytest

from lumos.agents.coordinator import triage
from lumos.tools.domain import Alert, MetricSample, Service, TimeWindow, Topology
from lumos.tools.metrics.memory import memory_growth
from lumos.tools.onset import find_onset, metric_onset

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)
ONSET = T0 + timedelta(minutes=20)
DATA = TimeWindow(start=T0, end=T0 + timedelta(minutes=40))


def _metrics() -> list[MetricSample]:
    """Per-minute samples of three services; `api` gets slow from minute 20 on, the others stay flat."""
    out = []
    for minute in range(40):
        ts = T0 + timedelta(minutes=minute)
        jitter = (minute * 7919 % 13) / 13.0
        out.append(MetricSample(ts=ts, service="api", metric="latency_p90_ms", value=(400.0 if minute >= 20 else 50.0) + 5 * jitter))
        out.append(MetricSample(ts=ts, service="web", metric="latency_p90_ms", value=(300.0 if minute >= 20 else 80.0) + 4 * jitter))
        out.append(MetricSample(ts=ts, service="db", metric="cpu_usage_pct", value=20.0 + 2 * jitter))
    return out


@pytest.mark.parametrize("delay_s", [60, 180, 300, 600])
def test_onset_is_found_in_the_metrics_whatever_the_alert_delay(delay_s: int):
    alert_time = ONSET + timedelta(seconds=delay_s)
    est = find_onset(alert_time=alert_time, data_window=DATA, index=None, metrics=_metrics())
    # Dated at the step, or at most one sample early (early is the safe side: the baseline stays clean).
    assert est.source == "metrics" and ONSET - timedelta(minutes=1) <= est.time <= ONSET
    alert = Alert(fingerprint="f", name="HighLatency", service="web", starts_at=alert_time)
    report = triage(alert, Topology(services=[Service(name="web")]), data_window=DATA, onset=est, margin_s=60)
    # The incident window opens before the onset (never after it), and the baseline is fault-free.
    assert report.incident_window.start <= ONSET - timedelta(seconds=60)
    assert report.baseline_window.end <= ONSET and report.onset == est.time and report.onset_source == "metrics"


def test_without_an_onset_in_the_data_the_window_follows_the_alert():
    flat = [m for m in _metrics() if m.service == "db"]
    assert metric_onset(flat, T0, DATA.end) == (None, 0.0)
    alert_time = ONSET + timedelta(minutes=5)
    est = find_onset(alert_time=alert_time, data_window=DATA, index=None, metrics=flat)
    assert est.time is None and est.source == "alert"
    alert = Alert(fingerprint="f", name="HighLatency", service="web", starts_at=alert_time)
    report = triage(alert, Topology(), data_window=DATA, onset=est, onset_lookback_s=120)
    assert report.incident_window.start == alert_time - timedelta(seconds=120) and report.onset is None


def test_memory_growth_tells_a_leak_and_a_limit_from_a_step():
    base = TimeWindow(start=T0, end=ONSET)
    inc = TimeWindow(start=ONSET, end=DATA.end)
    rows = []
    for minute in range(40):
        ts = T0 + timedelta(minutes=minute)
        after = max(0, minute - 20)
        rows.append(MetricSample(ts=ts, service="leaky", metric="memory_usage_mb", value=200.0 + (10.0 * after if minute >= 20 else minute % 3)))
        rows.append(MetricSample(ts=ts, service="stepped", metric="memory_usage_mb", value=(400.0 if minute >= 20 else 200.0) + minute % 3))
        rows.append(MetricSample(ts=ts, service="full", metric="memory_usage_pct", value=(95.0 if minute >= 20 else 50.0) + minute % 2))
    found = memory_growth(rows, inc, base)
    assert found["leaky"][0] > 0.8 and "climbs steadily" in found["leaky"][1]
    assert found["full"][0] > 0.5 and "limit" in found["full"][1]
    assert found.get("stepped", (0.0,))[0] < 0.3  # a new plateau is not a leak


def test_memory_that_climbs_and_restarts_is_a_leak_and_a_crash_loop_is_not():
    base = TimeWindow(start=T0, end=ONSET)
    inc = TimeWindow(start=ONSET, end=DATA.end)
    rows = []
    for minute in range(40):
        ts = T0 + timedelta(minutes=minute)
        after = max(0, minute - 20)
        # OOM: from 900 MB the heap fills towards 2 GB in three minutes, is killed and starts over.
        oom = 900.0 + minute % 2 if minute < 20 else 900.0 + 380.0 * (after % 3)
        # Crash loop: the process dies and comes back small, without climbing first.
        crash = 900.0 + minute % 2 if minute < 20 else (300.0 if after % 2 else 500.0)
        rows.append(MetricSample(ts=ts, service="oom", metric="memory_usage_mb", value=oom))
        rows.append(MetricSample(ts=ts, service="crashing", metric="memory_usage_mb", value=crash))
    found = memory_growth(rows, inc, base)
    assert found["oom"][0] > 0.8 and "drops (a restart) and climbs again" in found["oom"][1]
    assert found.get("crashing", (0.0,))[0] == 0.0
