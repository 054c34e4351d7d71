"""Acting on an incident: runbooks, planned steps, approvals, action results and audit events."""

from __future__ import annotations

from datetime import datetime
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.domain.base import FaultType, StrictModel


class Check(StrictModel):
    """A named read-only check with parameters (templated from the incident context)."""

    check: str
    params: dict[str, Any] = Field(default_factory=dict)


class StepSpec(StrictModel):
    """An action with parameters, used for a step's rollback."""

    action: str
    params: dict[str, Any] = Field(default_factory=dict)


class RunbookStep(StrictModel):
    """One step of a runbook."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9_-]*$")
    title: str = ""
    action: str
    params: dict[str, Any] = Field(default_factory=dict)
    destructive: bool | None = Field(default=None, description="None = take the action's own default.")
    timeout_s: float = Field(default=60.0, gt=0)
    verify: Check | None = None
    rollback: StepSpec | None = None


class ServiceSelector(StrictModel):
    """Which services a runbook applies to (empty = any)."""

    kinds: list[str] = Field(default_factory=list)
    tags: list[str] = Field(default_factory=list)
    names: list[str] = Field(default_factory=list)


class Runbook(StrictModel):
    """A remediation procedure, loaded from YAML and validated."""

    id: str = Field(pattern=r"^[a-z0-9][a-z0-9-]*$")
    title: str
    description: str = ""
    symptoms: list[str] = Field(default_factory=list)
    fault_types: list[FaultType] = Field(min_length=1)
    selector: ServiceSelector = Field(default_factory=ServiceSelector)
    preconditions: list[Check] = Field(default_factory=list)
    steps: list[RunbookStep] = Field(min_length=1)
    post_checks: list[Check] = Field(default_factory=list)


class _Record(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class PlannedStep(_Record):
    """A runbook step made concrete for one incident: parameters rendered, risk resolved."""

    index: int
    step_id: str
    title: str
    action: str
    params: dict[str, Any]
    destructive: bool
    requires_approval: bool
    timeout_s: float = 60.0
    verify: Check | None = None
    rollback: StepSpec | None = None


class Approval(_Record):
    """A human decision on one approval gate (a gated step, or the rollback of a step), as recorded by the gate."""

    step_index: int
    decision: Literal["approve", "reject"]
    approver: str
    comment: str = ""
    decided_at: datetime
    gate_id: str | None = Field(default=None, description="The gate the decision answered (see lumos.graph.gate).")
    kind: Literal["step", "rollback"] = "step"
    params_hash: str | None = Field(default=None, description="sha256 of the action, params and rollback that were approved.")
    role: str | None = Field(default=None, description="The approver's group, when one was given.")


class ActionResult(_Record):
    """What happened when a step's action ran (or was skipped)."""

    step_index: int
    action: str
    params: dict[str, Any]
    status: Literal["ok", "failed", "skipped", "dry_run"]
    output: str = ""
    idempotency_key: str
    destructive: bool
    approved_by: str | None = None
    replayed: bool = Field(default=False, description="True when the backend had already run this key and returned its record.")
    verified: bool | None = None
    started_at: datetime | None = None
    finished_at: datetime | None = None


class AuditEvent(_Record):
    """One record of the hash-chained audit trail."""

    seq: int
    incident_id: str
    ts: datetime
    kind: str
    actor: str
    data: dict[str, Any] = Field(default_factory=dict)
    prev_hash: str
    hash: str
    alg: str | None = Field(default=None, description="hmac-sha256 (keyed); sha256 or None for records written before audit keys.")
    key_id: str | None = Field(default=None, description="Public id of the audit key that signed the record.")
