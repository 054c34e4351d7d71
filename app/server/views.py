"""Response models of the HTTP API."""

from __future__ import annotations

from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lumos.app.server.store import AlertOutcome, AlertRef, IncidentRow
from lumos.graph.audit import VerifyResult
from lumos.graph.gate import GATE_ID, HEX64
from lumos.tools.domain import ActionResult, Approval, AuditEvent, Evidence, Hypothesis, PlannedStep, RunbookChoice


class IntakeResponse(BaseModel):
    """What happened to each alert of a delivery."""

    received: int
    new_incidents: int
    results: list[AlertOutcome]


class TimelineEntry(BaseModel):
    """One line of an incident's timeline (from its audit trail)."""

    seq: int
    ts: str
    kind: str
    actor: str


class IncidentDetail(BaseModel):
    """An incident: tracking data, diagnosis, plan, results, approvals, pending gate and timeline."""

    incident: IncidentRow
    alerts: list[AlertRef] = []
    hypotheses: list[Hypothesis] = []
    evidence: list[Evidence] = []
    runbook: RunbookChoice | None = None
    plan: list[PlannedStep] = []
    results: list[ActionResult] = []
    approvals: list[Approval] = []
    pending: dict[str, Any] | None = None
    escalation: str | None = None
    summary: str | None = None
    dependency_mermaid: str | None = None
    blast_radius: list[str] = []
    notes: list[str] = []
    timeline: list[TimelineEntry] = []


class AuditResponse(BaseModel):
    """Every audit record of an incident and whether its hash chain verifies."""

    incident_id: str
    verify: VerifyResult
    events: list[AuditEvent]


class ApprovalRequest(BaseModel):
    """An approver's decision on the pending gate, bound to it: copy `gate_id` and `params_hash` from `pending`.

    A decision for a gate that is no longer pending (the incident moved on, or another approver was first) is a 409
    and nothing runs. There is no way to change the params: what runs is exactly what the request showed.
    """

    model_config = ConfigDict(extra="forbid")

    decision: Literal["approve", "reject"]
    gate_id: str = Field(pattern=GATE_ID, description="`pending.gate_id` of the incident (the gate you are deciding).")
    params_hash: str = Field(pattern=HEX64, description="`pending.params_hash`: sha256 of the action, params and rollback shown.")
    action: str | None = Field(default=None, max_length=100, description="`pending.action`, checked when given.")
    comment: str = Field(default="", max_length=4000)


class ApprovalAccepted(BaseModel):
    """The decision was queued; the incident continues in the background."""

    incident_id: str
    step: str
    gate_id: str
    decision: Literal["approve", "reject"]
    approver: str


class Health(BaseModel):
    """Liveness and queue figures."""

    status: Literal["ok"]
    node_id: str
    fleet: bool
    busy_workers: int
    incidents: dict[str, int]
