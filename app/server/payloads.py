"""Webhook payloads (PagerDuty v3, the generic format) and their normalisation into Alerts."""

from __future__ import annotations

import hashlib
import hmac
from datetime import datetime, timezone
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.domain import Alert
from lumos.tools.domain.alert import label_fingerprint


class _Tolerant(BaseModel):
    """Vendor payloads: unknown fields are ignored (vendors add fields without notice)."""

    model_config = ConfigDict(extra="ignore")


class PagerDutyReference(_Tolerant):
    """A reference to another PagerDuty object (service, priority...)."""

    id: str | None = None
    summary: str | None = None
    type: str | None = None


class PagerDutyIncident(_Tolerant):
    """The incident object of a v3 incident event."""

    id: str = Field(min_length=1, max_length=200)
    type: str = "incident"
    title: str = ""
    status: str | None = None
    urgency: str | None = None
    incident_key: str | None = None
    created_at: datetime | None = None
    html_url: str | None = None
    service: PagerDutyReference | None = None
    priority: PagerDutyReference | None = None


class PagerDutyEvent(_Tolerant):
    """One v3 webhook event."""

    id: str = Field(min_length=1, max_length=200)
    event_type: str = Field(min_length=1, max_length=100)
    resource_type: str
    occurred_at: datetime
    data: PagerDutyIncident


class PagerDutyWebhook(_Tolerant):
    """The body of a PagerDuty v3 webhook delivery."""

    event: PagerDutyEvent


class GenericAlert(BaseModel):
    """One alert in the generic webhook format."""

    model_config = ConfigDict(extra="forbid")

    name: str = Field(min_length=1, max_length=200, description="Alert name (grouping label `alertname`).")
    status: Literal["firing", "resolved"] = "firing"
    severity: str = Field(default="warning", max_length=50)
    service: str | None = Field(default=None, max_length=200, description="Where the symptom was seen.")
    summary: str = Field(default="", max_length=2000)
    description: str = Field(default="", max_length=8000)
    labels: dict[str, str] = Field(default_factory=dict, max_length=100)
    annotations: dict[str, str] = Field(default_factory=dict, max_length=100)
    starts_at: datetime | None = Field(default=None, description="When it started firing (default: now).")
    ends_at: datetime | None = None
    fingerprint: str | None = Field(default=None, max_length=200, description="Stable id across deliveries (default: hash of labels).")


class GenericPayload(BaseModel):
    """The generic webhook body: `{"version": "1", "alerts": [...]}`."""

    model_config = ConfigDict(extra="forbid")

    version: Literal["1"]
    alerts: list[GenericAlert] = Field(min_length=1, max_length=1000)


PD_TRIGGER = {"incident.triggered", "incident.reopened"}
PD_RESOLVE = {"incident.resolved"}


def verify_pagerduty_signature(secret: str, body: bytes, header: str | None) -> bool:
    """True when one `v1=<hex>` signature in the header is the HMAC-SHA256 of the body under `secret`."""
    if not header:
        return False
    expected = hmac.new(secret.encode(), body, hashlib.sha256).hexdigest().encode()
    ok = False
    for part in header.split(","):
        version, _, value = part.strip().partition("=")
        # Compared as bytes: a header may carry any character (compare_digest refuses non-ASCII str).
        if version == "v1" and hmac.compare_digest(value.strip().lower().encode("utf-8", "replace"), expected):
            ok = True
    return ok


def sign_pagerduty(secret: str, body: bytes) -> str:
    """The header value PagerDuty would send for `body` (for tests and senders)."""
    return "v1=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()


def from_pagerduty(hook: PagerDutyWebhook) -> list[Alert]:
    """An incident.triggered/resolved event as an Alert; other event types carry no alert."""
    event = hook.event
    if event.event_type not in PD_TRIGGER | PD_RESOLVE or event.resource_type != "incident":
        return []
    inc = event.data
    service = inc.service.summary if inc.service and inc.service.summary else None
    labels = {"alertname": inc.title or f"PagerDuty {inc.id}", "pagerduty_incident": inc.id}
    if service:
        labels["service"] = service
    if inc.urgency:
        labels["urgency"] = inc.urgency
    if inc.priority and inc.priority.summary:
        labels["priority"] = inc.priority.summary
    started = inc.created_at or event.occurred_at
    resolved = event.event_type in PD_RESOLVE
    return [
        Alert(
            fingerprint=f"pd-{inc.id}",
            name=labels["alertname"],
            status="resolved" if resolved else "firing",
            severity="critical" if inc.urgency == "high" else "warning",
            service=service,
            summary=inc.title,
            labels=labels,
            annotations={"html_url": inc.html_url} if inc.html_url else {},
            starts_at=started,
            ends_at=event.occurred_at if resolved else None,
            generator_url=inc.html_url,
            source="pagerduty",
        )
    ]


def from_generic(payload: GenericPayload) -> list[Alert]:
    """Normalise generic alerts; labels get `alertname` and `service` from the named fields."""
    now = datetime.now(timezone.utc)
    alerts: list[Alert] = []
    for item in payload.alerts:
        labels = {**item.labels, "alertname": item.name}
        if item.service:
            labels["service"] = item.service
        alerts.append(
            Alert(
                fingerprint=item.fingerprint or label_fingerprint(labels),
                name=item.name,
                status=item.status,
                severity=item.severity,
                service=item.service,
                summary=item.summary,
                description=item.description,
                labels=labels,
                annotations=item.annotations,
                starts_at=item.starts_at or now,
                ends_at=item.ends_at,
                source="generic",
            )
        )
    return alerts
