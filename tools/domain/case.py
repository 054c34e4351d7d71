"""What a recorded incident case says up front (case.yaml) and what really happened (truth.yaml)."""

from __future__ import annotations

from datetime import datetime

from pydantic import Field, field_validator

from lumos.tools.domain.base import FaultType, RecordModel, TimeWindow, as_utc


class CaseInfo(RecordModel):
    """case.yaml: the responder's up-front knowledge of a recorded incident."""

    id: str = Field(pattern=r"^[A-Za-z0-9][A-Za-z0-9._-]*$")
    title: str = ""
    system: str = ""
    source: str = ""
    window: TimeWindow
    alert_time: datetime
    notes: str = ""

    @field_validator("alert_time")
    @classmethod
    def _utc(cls, value: datetime) -> datetime:
        return as_utc(value)


class RootCause(RecordModel):
    """Where the fault really was."""

    service: str
    fault_type: FaultType
    instance: str | None = None


class GroundTruth(RecordModel):
    """truth.yaml: used only for scoring and to seed the simulated environment, never for diagnosis."""

    root_cause: RootCause
    fault_start: datetime | None = None
    accepted_runbooks: list[str] = Field(default_factory=list)
    forbidden_actions: list[str] = Field(default_factory=list)

    @field_validator("fault_start")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)
