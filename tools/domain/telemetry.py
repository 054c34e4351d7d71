"""Observability records: logs, spans, metric samples, topology and changes."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import Field, field_validator

from lumos.tools.domain.base import RecordModel, as_utc

ServiceKind = Literal["service", "database", "cache", "queue", "external"]
ChangeKind = Literal["deploy", "config", "feature_flag", "infra", "scale"]


class _Timed(RecordModel):
    @field_validator("ts", "start", check_fields=False)
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)


class LogRecord(_Timed):
    """One log line as recorded: `message` is the raw text, `level` None when the line has none."""

    ts: datetime
    service: str
    message: str
    level: str | None = None
    instance: str | None = None
    trace_id: str | None = None
    attrs: dict[str, Any] = Field(default_factory=dict)


class Span(_Timed):
    """One trace span; `parent_span_id` is None for a root span, `status` OK/ERROR/None."""

    trace_id: str
    span_id: str
    parent_span_id: str | None = None
    service: str
    operation: str = ""
    start: datetime
    duration_ms: float = Field(ge=0)
    status: Literal["OK", "ERROR"] | None = None
    instance: str | None = None


class MetricSample(_Timed):
    """One sample of a metric series (long format)."""

    ts: datetime
    service: str
    metric: str
    value: float
    instance: str | None = None


class Service(RecordModel):
    """A node of the service topology."""

    name: str
    kind: ServiceKind = "service"
    tier: str | None = None
    criticality: str | None = None
    tags: list[str] = Field(default_factory=list)
    node: str | None = None


class CallEdge(RecordModel):
    """`caller` sends requests to `callee`."""

    caller: str
    callee: str


class Topology(RecordModel):
    """Services and who calls whom, as a catalog/CMDB export or derived from spans."""

    services: list[Service] = Field(default_factory=list)
    calls: list[CallEdge] = Field(default_factory=list)

    def service_names(self) -> list[str]:
        """All services named anywhere in the topology (nodes and edge endpoints), sorted."""
        names = {s.name for s in self.services}
        for edge in self.calls:
            names.update((edge.caller, edge.callee))
        return sorted(names)

    def get(self, name: str) -> Service | None:
        """The service called `name`, or None."""
        return next((s for s in self.services if s.name == name), None)


class Change(_Timed):
    """A deploy, config change, feature flag, infrastructure change or scaling event."""

    ts: datetime
    service: str
    kind: ChangeKind
    summary: str = ""
    version: str | None = None
    previous_version: str | None = None
    attrs: dict[str, Any] = Field(default_factory=dict)
