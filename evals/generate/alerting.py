"""The constructed alert: fires on the entry service, named after its symptom, never naming a cause."""

from __future__ import annotations

import random
from datetime import datetime

from lumos.tools.domain import AlertmanagerPayload
from lumos.tools.domain.alert import label_fingerprint

ERROR_ALERTS = ("HighErrorRate", "HTTP5xxRatioHigh", "ErrorBudgetBurnFast")
LATENCY_ALERTS = ("HighLatencyP99", "SlowUserRequests", "LatencySLOBurn")
BOTH = "HighErrorRateOrLatency"


def symptom(rows: list[tuple], entry: str, fault_start: datetime) -> str:
    """'errors', 'latency' or 'both': how the entry service's metrics changed after fault start."""
    def mean(metric: str, after: bool) -> float:
        vals = [r[4] for r in rows if r[1] == entry and r[3] == metric and (r[0] > fault_start) == after]
        return sum(vals) / len(vals) if vals else 0.0
    err = mean("error_rate", True) - mean("error_rate", False) > 0.02
    slow = mean("latency_p99_ms", True) > 1.5 * max(1.0, mean("latency_p99_ms", False))
    return "both" if err and slow else "errors" if err else "latency" if slow else "both"


def build_alert(rng: random.Random, entry: str, system: str, kind: str, starts_at: datetime) -> AlertmanagerPayload:
    """An Alertmanager v4 payload with one firing alert on `entry`; generic text only."""
    if kind == "errors":
        name, summary = rng.choice(ERROR_ALERTS), "Elevated error ratio on user-facing requests"
        desc = "The 5xx ratio of user-facing requests is above its objective."
        expr = f'sum(rate(http_requests_total{{service="{entry}",code=~"5.."}}[2m])) / sum(rate(http_requests_total{{service="{entry}"}}[2m])) > 0.02'
    elif kind == "latency":
        name, summary = rng.choice(LATENCY_ALERTS), "p99 latency above objective on user-facing requests"
        desc = "User-facing requests are slower than the latency objective."
        expr = f'histogram_quantile(0.99, sum by (le) (rate(http_request_duration_seconds_bucket{{service="{entry}"}}[2m]))) > 1'
    else:
        name, summary = BOTH, "Elevated error rate or latency on user-facing requests"
        desc = "User-facing requests show an elevated error rate and/or increased latency."
        expr = name
    labels = {"alertname": name, "severity": rng.choice(["critical", "critical", "warning"]), "service": entry,
              "system": system, "env": "prod"}
    annotations = {"summary": summary, "description": desc}
    return AlertmanagerPayload.model_validate({
        "version": "4", "status": "firing", "receiver": "incident-agent",
        "groupKey": f'{{}}:{{alertname="{name}"}}', "groupLabels": {"alertname": name},
        "commonLabels": labels, "commonAnnotations": annotations,
        "externalURL": "http://alertmanager.example.invalid",
        "alerts": [{"status": "firing", "labels": labels, "annotations": annotations, "startsAt": starts_at,
                    "endsAt": None, "generatorURL": "http://prometheus.example.invalid/graph?g0.expr=" + expr.replace(" ", "+"),
                    "fingerprint": label_fingerprint(labels)}],
    })
