"""Alerts: the Alertmanager v4 webhook payload and LUMOS's normalised Alert."""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Literal

from pydantic import Field, field_validator

from lumos.tools.domain.base import RecordModel, as_utc

_ZERO_TIME_PREFIX = "0001-01-01"


class AlertmanagerAlert(RecordModel):
    """One alert inside an Alertmanager webhook payload."""

    status: Literal["firing", "resolved"]
    labels: dict[str, str]
    annotations: dict[str, str] = Field(default_factory=dict)
    startsAt: datetime
    endsAt: datetime | None = None
    generatorURL: str | None = None
    fingerprint: str | None = None

    @field_validator("endsAt", mode="before")
    @classmethod
    def _zero_is_none(cls, value: object) -> object:
        if isinstance(value, str) and value.startswith(_ZERO_TIME_PREFIX):
            return None
        return value


class AlertmanagerPayload(RecordModel):
    """The body Alertmanager POSTs to a webhook receiver (payload version 4)."""

    version: Literal["4"]
    status: Literal["firing", "resolved"]
    receiver: str = ""
    groupKey: str = ""
    groupLabels: dict[str, str] = Field(default_factory=dict)
    commonLabels: dict[str, str] = Field(default_factory=dict)
    commonAnnotations: dict[str, str] = Field(default_factory=dict)
    externalURL: str | None = None
    alerts: list[AlertmanagerAlert] = Field(min_length=1)


class Alert(RecordModel):
    """An alert normalised from any source (Alertmanager, PagerDuty, generic webhook, a person)."""

    fingerprint: str
    name: str
    status: Literal["firing", "resolved"] = "firing"
    severity: str = "warning"
    service: str | None = Field(default=None, description="Where the symptom was seen; usually not the root cause.")
    summary: str = ""
    description: str = ""
    labels: dict[str, str] = Field(default_factory=dict)
    annotations: dict[str, str] = Field(default_factory=dict)
    starts_at: datetime
    ends_at: datetime | None = None
    generator_url: str | None = None
    source: str = "alertmanager"

    @field_validator("starts_at", "ends_at")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    @classmethod
    def from_alertmanager(cls, payload: AlertmanagerPayload | dict) -> list["Alert"]:
        """Normalise every alert of an Alertmanager v4 webhook payload."""
        if not isinstance(payload, AlertmanagerPayload):
            payload = AlertmanagerPayload.model_validate(payload)
        alerts: list[Alert] = []
        for raw in payload.alerts:
            labels = {**payload.commonLabels, **raw.labels}
            annotations = {**payload.commonAnnotations, **raw.annotations}
            alerts.append(
                cls(
                    fingerprint=raw.fingerprint or label_fingerprint(labels),
                    name=labels.get("alertname", "unnamed"),
                    status=raw.status,
                    severity=labels.get("severity", "warning"),
                    service=labels.get("service") or labels.get("job") or labels.get("app"),
                    summary=annotations.get("summary", ""),
                    description=annotations.get("description", ""),
                    labels=labels,
                    annotations=annotations,
                    starts_at=raw.startsAt,
                    ends_at=raw.endsAt,
                    generator_url=raw.generatorURL,
                    source="alertmanager",
                )
            )
        return alerts


def label_fingerprint(labels: dict[str, str]) -> str:
    """A stable 16-hex-digit fingerprint of a label set (order-independent)."""
    canonical = json.dumps(sorted(labels.items()), separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:16]
