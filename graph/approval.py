"""The approval gate: the only way a destructive step reaches execution.

The gate calls LangGraph's `interrupt()` with an approval request; the incident pauses (its
state is checkpointed) until someone resumes the thread with a decision. Anything that is not
a well-formed decision counts as a rejection: the gate fails closed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any, Literal

from pydantic import Field, ValidationError

from lumos.tools.domain import Approval, PlannedStep, StrictModel


class ApprovalDecision(StrictModel):
    """What a human sends to resume a gated step."""

    decision: Literal["approve", "reject"]
    approver: str = Field(min_length=1, max_length=200)
    comment: str = Field(default="", max_length=4000)
    params: dict[str, Any] | None = Field(default=None, description="Approve with changed params (validated against the action).")
    role: str | None = Field(default=None, max_length=100, description="The approver's role; required when the workflow names approver roles.")


def approval_request(incident_id: str, step: PlannedStep, state: dict[str, Any]) -> dict[str, Any]:
    """The payload shown to the approver: step, params, why, and what it may affect."""
    hypotheses = state.get("hypotheses") or []
    top = hypotheses[0] if hypotheses else None
    dep = state.get("dependency_report")
    return {
        "type": "approval_request",
        "incident_id": incident_id,
        "step_index": step.index,
        "step_id": step.step_id,
        "title": step.title,
        "action": step.action,
        "params": step.params,
        "destructive": step.destructive,
        "runbook": state["runbook"].runbook_id if state.get("runbook") else None,
        "hypothesis": (
            {"service": top.service, "fault_type": str(top.fault_type), "confidence": round(top.confidence, 3)} if top else None
        ),
        "evidence": [e.summary for e in (top.evidence[:5] if top else [])],
        "blast_radius": list(dep.blast_radius) if dep else [],
    }


def parse_decision(step: PlannedStep, answer: Any) -> Approval:
    """Turn a resume value into an Approval; anything malformed is a rejection (fail closed).

    `{"decision": "timeout"}` (sent by a scheduler when the gate's deadline passed) is a rejection by `lumos:timeout`.
    """
    now = datetime.now(timezone.utc)
    if isinstance(answer, dict) and answer.get("decision") == "timeout":
        return Approval(step_index=step.index, decision="reject", approver="lumos:timeout",
                        comment="approval timed out", decided_at=now)
    try:
        decision = ApprovalDecision.model_validate(answer)
    except ValidationError as exc:
        return Approval(
            step_index=step.index,
            decision="reject",
            approver="lumos:gate",
            comment=f"malformed approval payload rejected: {exc.errors()[0].get('msg', 'invalid')}",
            decided_at=now,
        )
    return Approval(
        step_index=step.index,
        decision=decision.decision,
        approver=decision.approver,
        comment=decision.comment,
        decided_at=now,
        params_override=decision.params if decision.decision == "approve" else None,
    )


def approval_for(approvals: list[Approval], step_index: int) -> Approval | None:
    """The latest decision recorded for a step, if any."""
    for approval in reversed(approvals):
        if approval.step_index == step_index:
            return approval
    return None
