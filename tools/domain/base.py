"""Base classes and shared value types of the domain model."""

from __future__ import annotations

from datetime import datetime, timezone
from enum import StrEnum

from pydantic import BaseModel, ConfigDict, field_validator, model_validator


class FaultType(StrEnum):
    """The case-format fault taxonomy: what kind of fault a root cause is."""

    cpu_saturation = "cpu_saturation"
    memory_pressure = "memory_pressure"
    network_delay = "network_delay"
    network_loss = "network_loss"
    error_injection = "error_injection"
    bad_response = "bad_response"
    config_change = "config_change"
    bad_deploy = "bad_deploy"
    dependency_outage = "dependency_outage"
    resource_exhaustion = "resource_exhaustion"
    crash_loop = "crash_loop"
    unknown = "unknown"  # a diagnosis only: the evidence does not say which kind of fault it is


FAULT_TYPES: tuple[str, ...] = tuple(f.value for f in FaultType if f is not FaultType.unknown)
"""The case-format taxonomy (what truth and runbooks name); `unknown` is only ever a diagnosis."""


class RecordModel(BaseModel):
    """A record read from recorded data or a webhook: unknown fields are ignored."""

    model_config = ConfigDict(extra="ignore", frozen=True)


class StrictModel(BaseModel):
    """A document people write (runbooks, settings, API requests): unknown fields are errors."""

    model_config = ConfigDict(extra="forbid", frozen=True)


def as_utc(value: datetime) -> datetime:
    """Return `value` as an aware UTC datetime (naive values are taken to be UTC)."""
    if value.tzinfo is None:
        return value.replace(tzinfo=timezone.utc)
    return value.astimezone(timezone.utc)


class TimeWindow(RecordModel):
    """A closed-open time range [start, end) in UTC."""

    start: datetime
    end: datetime

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)

    @model_validator(mode="after")
    def _ordered(self) -> "TimeWindow":
        if self.end < self.start:
            raise ValueError(f"window end {self.end.isoformat()} is before start {self.start.isoformat()}")
        return self

    def contains(self, ts: datetime) -> bool:
        """True when `ts` lies in [start, end)."""
        return self.start <= ts < self.end

    @property
    def seconds(self) -> float:
        """Length of the window in seconds."""
        return (self.end - self.start).total_seconds()
