"""The approval gate's inputs and outputs: the request shown to approvers and the decision it records.

The gate calls LangGraph's `interrupt()` with a `GateRequest` (see `lumos.graph.gate`); the incident
pauses (its state is checkpointed) until someone resumes the thread with a decision bound to that
gate. Anything that is not a well-formed decision counts as a rejection: the gate fails closed.
"""

from __future__ import annotations

from datetime import datetime, timezone
from typing import Any

from pydantic import ValidationError

from lumos.graph.gate import GateDecision, GateKind, GateRequest, gate_id, step_params_hash
from lumos.tools.domain import Approval, PlannedStep


def approval_request(incident_id: str, step: PlannedStep, state: dict[str, Any], *, kind: GateKind = "step",
                     info: dict[str, Any] | None = None) -> GateRequest:
    """The request shown to the approver: the gate binding, step, params, rollback, why, and what it may affect."""
    hypotheses = state.get("hypotheses") or []
    top = hypotheses[0] if hypotheses else None
    dep = state.get("dependency_report")
    digest = step_params_hash(step, kind)
    if kind == "rollback" and step.rollback is not None:
        action, params, rollback, title = step.rollback.action, step.rollback.params, None, f"Roll back: {step.title}"
    else:
        action, params, title = step.action, step.params, step.title
        rollback = step.rollback.model_dump(mode="json") if step.rollback is not None else None
    return GateRequest(
        gate_id=gate_id(incident_id, kind, step.index, action, digest),
        step_index=step.index,
        action=action,
        params_hash=digest,
        kind=kind,
        incident_id=incident_id,
        step_id=step.step_id,
        title=title,
        params=params,
        destructive=step.destructive,
        rollback=rollback,
        runbook=state["runbook"].runbook_id if state.get("runbook") else None,
        hypothesis=({"service": top.service, "fault_type": str(top.fault_type), "confidence": round(top.confidence, 3)} if top else None),
        evidence=[e.summary for e in (top.evidence[:5] if top else [])],
        blast_radius=list(dep.blast_radius) if dep else [],
        **(info or {}),
    )


def parse_decision(request: GateRequest, answer: Any) -> Approval:
    """Turn a resume value bound to `request`'s gate into an Approval; anything malformed is a rejection (fail closed).

    `{"decision": "timeout", ...}` (sent by a scheduler when the gate's deadline passed) is a rejection by `lumos:timeout`.
    """
    now = datetime.now(timezone.utc)
    binding = {"step_index": request.step_index, "gate_id": request.gate_id, "kind": request.kind, "params_hash": request.params_hash,
               "decided_at": now}
    if isinstance(answer, dict) and answer.get("decision") == "timeout":
        return Approval(**binding, decision="reject", approver="lumos:timeout", comment="approval timed out")
    try:
        decision = GateDecision.model_validate(answer)
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error.get("loc", ())) or "value"
        return Approval(**binding, decision="reject", approver="lumos:gate",
                        comment=f"malformed approval payload rejected: {where}: {error.get('msg', 'invalid')}")
    if decision.decision == "timeout":
        return Approval(**binding, decision="reject", approver="lumos:timeout", comment="approval timed out")
    return Approval(**binding, decision=decision.decision, approver=decision.approver, comment=decision.comment, role=decision.role)


def approval_for(approvals: list[Approval], step_index: int, kind: GateKind = "step") -> Approval | None:
    """The latest decision recorded in state for a step's gate (or its rollback gate), if any."""
    for approval in reversed(approvals):
        if approval.step_index == step_index and approval.kind == kind:
            return approval
    return None
