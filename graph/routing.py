"""Routers: pure functions of the state that choose the next node."""

from __future__ import annotations

from typing import Literal

from lumos.graph.approval import approval_for
from lumos.graph.state import IncidentState


def after_intake(state: IncidentState) -> Literal["triage", "escalate"]:
    """An incident without any data source escalates at once; the others are triaged."""
    return "escalate" if state.get("escalation") else "triage"


def after_select(state: IncidentState) -> Literal["plan", "escalate"]:
    """A runbook was found -> plan it; otherwise a human takes over."""
    return "plan" if state.get("runbook") is not None else "escalate"


def after_plan(state: IncidentState) -> Literal["next_step", "escalate"]:
    """Preconditions held -> start the step loop."""
    return "escalate" if state.get("escalation") else "next_step"


def choose_step(state: IncidentState) -> Literal["approval_gate", "execute_step", "resolve"]:
    """All steps done -> resolve; a gated step -> approval gate; otherwise execute."""
    plan = state.get("plan") or []
    index = state.get("step_index", 0)
    if index >= len(plan):
        return "resolve"
    step = plan[index]
    if index < 0:
        raise ValueError(f"step_index must be >= 0, got {index}")
    return "approval_gate" if (step.requires_approval or step.destructive) else "execute_step"


def after_gate(state: IncidentState) -> Literal["execute_step", "escalate"]:
    """Approved -> execute; rejected (or no decision) -> escalate."""
    step = state["plan"][state["step_index"]]
    approval = approval_for(state.get("approvals") or [], step.index)
    return "execute_step" if approval is not None and approval.decision == "approve" else "escalate"


def after_execute(state: IncidentState) -> Literal["verify", "escalate"]:
    """An executed step is verified; a blocked one escalates."""
    return "escalate" if state.get("escalation") else "verify"


def after_rollback_gate(state: IncidentState) -> Literal["rollback", "escalate"]:
    """Rollback approved -> roll back; rejected (or no decision) -> escalate without it."""
    approval = approval_for(state.get("approvals") or [], state["plan"][state["step_index"]].index, "rollback")
    return "rollback" if approval is not None and approval.decision == "approve" else "escalate"
