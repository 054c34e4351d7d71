"""The gate nodes (a gated step, the rollback of a step) and the audit check every destructive action passes.

The gate is the only writer of `approval.decided` audit records; `execute_step` and `rollback` run a
gated action only when such a record -- signed into the keyed chain -- names this gate, this step,
this action and these params. State alone (`approvals`) is never enough: a thread whose state was
edited to hold an approval has no matching record, so nothing runs.
"""

from __future__ import annotations

from typing import Any

from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt

from lumos.graph.approval import approval_request, parse_decision
from lumos.graph.gate import GateKind, GateRequest, binding_problem, requested_key
from lumos.graph.resources import Resources
from lumos.graph.state import IncidentState
from lumos.graph.workflow_nodes import WorkflowNodes, current_workflow
from lumos.tools.domain import Approval, PlannedStep

MAX_REFUSED = 5
"""Decisions for other gates a gate refuses (recording each) before it rejects and escalates (fail closed)."""
AUTH_USER_KEY = "langgraph_auth_user"
"""Where LangGraph Server puts the authenticated user (see app/server/langgraph_auth.py) in a run's config."""


def authenticated_approver(config: RunnableConfig | None) -> dict[str, Any] | None:
    """The caller LangGraph Server authenticated for this run: {identity, groups, can_approve}; None outside the server."""
    user = ((config or {}).get("configurable") or {}).get(AUTH_USER_KEY)
    if user is None:
        return None
    try:
        identity = str(user.identity)
        permissions = list(getattr(user, "permissions", []) or [])
        groups = list(user["groups"]) if "groups" in user else []
    except Exception:  # an unexpected user object: no identity, so no approval
        return {"identity": "unknown", "groups": [], "can_approve": False}
    return {"identity": identity, "groups": groups, "can_approve": "incidents:approve" in permissions}


class GateNodes:
    """approval_gate, rollback_gate and the recorded-approval check."""

    def __init__(self, resources: Resources):
        self.r = resources
        self.wf = WorkflowNodes(resources)

    def request(self, state: IncidentState, step: PlannedStep, kind: GateKind = "step") -> GateRequest:
        """The gate request of a step (or of its rollback), with the workflow's roles and deadline."""
        return approval_request(state["incident_id"], step, dict(state), kind=kind,
                                info=self.wf.gate_info(state, requested_key(kind, step.index)))

    # -- the record --------------------------------------------------------------------------------
    def decided(self, incident_id: str, request: GateRequest) -> Approval | None:
        """The decision recorded in the audit trail for exactly this gate (binding and signature checked), if any."""
        for event in reversed(self.r.audit.events(incident_id)):
            if event.kind != "approval.decided" or (event.data.get("gate") or {}).get("gate_id") != request.gate_id:
                continue
            if request.binding().mismatch(event.data.get("gate") or {}) is not None or not self.r.audit.authentic(event):
                continue
            try:
                return Approval.model_validate(event.data.get("approval") or {})
            except ValueError:
                continue
        return None

    def approved(self, state: IncidentState, request: GateRequest) -> Approval | None:
        """The approval of this gate when the audit trail holds one that the workflow's roles accept; else None."""
        approval = self.decided(state["incident_id"], request)
        if approval is None or approval.decision != "approve":
            return None
        roles = current_workflow(self.r, state).workflow.approval.approver_roles
        if roles and approval.role not in roles:
            return None
        return approval

    # -- the nodes ---------------------------------------------------------------------------------
    def approval_gate(self, state: IncidentState, config: RunnableConfig) -> dict[str, Any]:
        """Pause for a human decision on the current gated step (LangGraph interrupt); fail closed on bad input."""
        step = state["plan"][state["step_index"]]
        return self._gate(state, config, self.request(state, step, "step"), step)

    def rollback_gate(self, state: IncidentState, config: RunnableConfig) -> dict[str, Any]:
        """Pause for a human decision on rolling back the current step (its own gate: the step's approval did not cover it)."""
        step = state["plan"][state["step_index"]]
        return self._gate(state, config, self.request(state, step, "rollback"), step)

    def _gate(self, state: IncidentState, config: RunnableConfig, request: GateRequest, step: PlannedStep) -> dict[str, Any]:
        incident = state["incident_id"]
        recorded = self.decided(incident, request)  # decided before a crash: the record, not a new question
        if recorded is not None:
            return self._update(recorded, request, step, "rejected" if recorded.decision == "reject" else None)
        self.r.audit.append(incident, "approval.requested", request, actor="graph:approval_gate",
                            dedupe_key=f"approval.requested:{request.gate_id}")
        answer, via = self._ask(state, config, request)
        approval, kind = self.wf.gate_rules(state, parse_decision(request, answer))
        data = {"approval": approval, "role": approval.role, "gate": request.binding(), "via": via}
        self.r.audit.append(incident, "approval.decided", data, actor=f"human:{approval.approver}",
                            dedupe_key=f"approval.decided:{request.gate_id}")
        recorded = self.decided(incident, request)
        if recorded is None:  # the record did not land (or is not authentic): never act on an unrecorded decision
            approval = approval.model_copy(update={"decision": "reject", "comment": "decision could not be recorded; rejected"})
            return self._update(approval, request, step, "rejected")
        return self._update(recorded, request, step, kind)

    def _ask(self, state: IncidentState, config: RunnableConfig, request: GateRequest) -> tuple[Any, str]:
        """Interrupt until a decision for this gate arrives; decisions for other gates are refused and recorded."""
        incident = state["incident_id"]
        user = authenticated_approver(config)
        for attempt in range(MAX_REFUSED + 1):
            answer = interrupt(request.model_dump(mode="json"))
            problem = binding_problem(request, answer)
            if problem is None and user is not None and isinstance(answer, dict):
                problem, answer = self._as_server_user(user, request, answer)
            if problem is None:
                return answer, "langgraph-server" if user is not None else "runner"
            self.r.audit.append(incident, "approval.refused", {"gate": request.binding(), "reason": problem},
                                actor="graph:approval_gate", dedupe_key=f"approval.refused:{request.gate_id}:{attempt}")
        return {"decision": "reject", "approver": "lumos:gate", "comment": f"{MAX_REFUSED + 1} decisions for other gates refused"}, "gate"

    @staticmethod
    def _as_server_user(user: dict[str, Any], request: GateRequest, answer: dict[str, Any]) -> tuple[str | None, dict[str, Any]]:
        """On LangGraph Server the approver and role come from the token, never from the payload."""
        if answer.get("decision") in ("approve", "reject") and not user["can_approve"]:
            return f"{user['identity']} may not decide gates (needs an approver token)", answer
        wanted = answer.get("role")
        groups = user["groups"]
        role = wanted if wanted in groups else next((g for g in groups if g in request.approver_roles), groups[0] if groups else None)
        return None, {**answer, "approver": user["identity"], "role": role}

    def _update(self, approval: Approval, request: GateRequest, step: PlannedStep, kind: str | None) -> dict[str, Any]:
        update: dict[str, Any] = {"approvals": [approval], "status": "remediating"}
        if approval.decision == "reject":
            what = "rollback of step" if request.kind == "rollback" else "step"
            update["escalation"] = f"{what} {step.index} ({request.action}) rejected by {approval.approver}: {approval.comment}".rstrip(": ")
            update["escalation_kind"] = kind or "rejected"
        return update
