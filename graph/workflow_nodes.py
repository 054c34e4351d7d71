"""Nodes and routers that interpret the incident's workflow: agent stages, branches, gate rules, notifications.

One generic graph serves every workflow: the workflow chosen at intake is stored in state by
name, and these nodes look it up in `Resources.workflows` each time they run (so a resumed
incident keeps the workflow it started with, as long as that workflow still exists).
"""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from lumos.graph.gate import requested_key
from lumos.graph.resources import Resources
from lumos.graph.sources import open_sources
from lumos.graph.state import IncidentState
from lumos.graph.workflow_spec import BUILTIN_AGENTS, Branch, BranchWhen, Workflow
from lumos.graph.workflows import LoadedWorkflow
from lumos.tools.domain import Alert, Approval, Hypothesis
from lumos.tools.notify import EscalationEvent, send_notification
from lumos.tools.redact import redact_value

FALLBACK = LoadedWorkflow(
    workflow=Workflow(name="default", fallback=True, branches=[
        Branch(name="low-confidence", when=BranchWhen(below_action_threshold=True), escalate=True,
               reason="the diagnosis is not confident enough to act on without a human"),
    ]),
    path=None, levels=(BUILTIN_AGENTS,),
)
"""Used when no catalog is loaded: the bundled default (both agents in parallel, destructive steps gated,
a diagnosis below the action threshold escalated)."""


def agent_node(agent: str) -> str:
    """The graph node that runs `agent` (built-ins keep their historical node names)."""
    return agent if agent in BUILTIN_AGENTS else f"agent_{agent}"


def current_workflow(resources: Resources, state: IncidentState) -> LoadedWorkflow:
    """The workflow recorded in state (the fallback when none is, or the catalog is empty)."""
    name = (state.get("workflow") or {}).get("name")
    items = resources.workflows.items
    if name in items:
        return items[name]
    return next((w for w in items.values() if w.workflow.fallback), FALLBACK)


def select_workflow(resources: Resources, state: IncidentState, alert: Alert) -> dict[str, str]:
    """Choose the workflow for a new incident: a requested one if valid, else by the match rules."""
    requested = (state.get("workflow") or {}).get("name")
    if requested and requested in resources.workflows.items:
        return {"name": requested, "reason": (state.get("workflow") or {}).get("reason") or "requested when the incident was opened"}
    if not resources.workflows.items:
        return {"name": FALLBACK.workflow.name, "reason": "no workflows loaded; built-in default"}
    topology = open_sources(state.get("sources")).topology
    service = topology.get(alert.service) if alert.service else None
    chosen, why = resources.workflows.select(alert, service.kind if service else None)
    return {"name": chosen.workflow.name, "reason": why}


def top_summary(hypotheses: list[Hypothesis], n: int = 3) -> list[dict[str, Any]]:
    """The top hypotheses as small JSON dicts."""
    return [{"service": h.service, "fault_type": str(h.fault_type), "confidence": round(h.confidence, 3)} for h in hypotheses[:n]]


def branch_matches(branch: Branch, top: Hypothesis | None, action_threshold: float = 0.5) -> bool:
    """Whether a branch's condition holds for the top hypothesis (no hypothesis = confidence 0)."""
    when = branch.when
    confidence = top.confidence if top else 0.0
    if when.below_action_threshold and confidence >= action_threshold:
        return False
    if when.fault_type is not None and (top is None or str(top.fault_type) != when.fault_type):
        return False
    if when.min_confidence is not None and confidence < when.min_confidence:
        return False
    return not (when.max_confidence is not None and confidence >= when.max_confidence)


class WorkflowNodes:
    """Workflow-driven nodes and routers; built once per graph."""

    def __init__(self, resources: Resources):
        self.r = resources

    def agent_nodes(self) -> dict[str, Callable[[IncidentState], dict[str, Any]]]:
        """One node per plugin agent, named `agent_<name>`."""
        return {agent_node(name): self._plugin_node(name, fn) for name, fn in self.r.plugins.agents.items() if name not in BUILTIN_AGENTS}

    def agent_destinations(self) -> list[str]:
        """Every node a stage router may send to."""
        return [*BUILTIN_AGENTS, *self.agent_nodes()]

    def _plugin_node(self, name: str, fn: Callable[[dict[str, Any]], dict[str, Any]]) -> Callable[[IncidentState], dict[str, Any]]:
        def run(state: IncidentState) -> dict[str, Any]:
            t0 = time.perf_counter()
            context = {"incident_id": state["incident_id"], "alert": state["alert"].model_dump(mode="json"),
                       "triage": state["triage"].model_dump(mode="json") if state.get("triage") else None,
                       "sources": dict(state.get("sources") or {})}
            try:
                findings = fn(context)
                if not isinstance(findings, dict):
                    raise TypeError(f"agent returned {type(findings).__name__}, expected a dict")
                update: dict[str, Any] = {"agent_findings": {name: findings}}
            except Exception as exc:  # a plugin must never take the incident down
                findings = {"error": f"{type(exc).__name__}: {exc}"}
                update = {"agent_findings": {name: findings}, "notes": [f"plugin agent {name} failed: {findings['error']}"]}
            self.r.audit.append(state["incident_id"], "agent.report", {"agent": name, "plugin": True, "findings": findings},
                                actor=f"agent:{name}", dedupe_key=f"agent.{name}")
            return {**update, "timings": {f"{name}_s": time.perf_counter() - t0}}
        return run

    def _level(self, state: IncidentState, index: int) -> list[str] | str:
        levels = current_workflow(self.r, state).levels
        return [agent_node(a) for a in levels[index]] if index < len(levels) else "correlate"

    def first_stage(self, state: IncidentState) -> list[str] | str:
        """Router after triage: the agents of the workflow's first stage (in parallel)."""
        return self._level(state, 0)

    def stage_done(self, state: IncidentState) -> dict[str, Any]:
        """Join node after each stage: advance to the next stage."""
        return {"stage_index": state.get("stage_index", 0) + 1}

    def next_stage(self, state: IncidentState) -> list[str] | str:
        """Router after a stage: the next stage's agents, or correlation when all ran."""
        return self._level(state, state.get("stage_index", 0))

    def diagnosis_branch(self, state: IncidentState) -> dict[str, Any]:
        """Take the workflow's first branch whose condition holds for the top hypothesis (none = default path)."""
        workflow = current_workflow(self.r, state).workflow
        hypotheses = state.get("hypotheses") or []
        top = hypotheses[0] if hypotheses else None
        threshold = self.r.model.calibration.action_threshold
        branch = next((b for b in workflow.branches if branch_matches(b, top, threshold)), None)
        if branch is None:
            return {}
        record = {"workflow": workflow.name, "branch": branch.name, "runbook": branch.runbook, "escalate": branch.escalate,
                  "reason": branch.reason, "top": top_summary(hypotheses, 1)}
        self.r.audit.append(state["incident_id"], "workflow.branch", record, actor="graph:workflow", dedupe_key="workflow.branch")
        update: dict[str, Any] = {"branch": {"name": branch.name, "runbook": branch.runbook, "reason": branch.reason}}
        if branch.escalate:
            confidence = f"{top.confidence:.2f}" if top else "none"
            update["escalation"] = f"workflow {workflow.name} branch {branch.name}: {branch.reason or 'escalate'} (top confidence {confidence})"
            update["escalation_kind"] = "low_confidence"
        return update

    @staticmethod
    def after_branch(state: IncidentState) -> str:
        """Router: a branch that escalates goes to a human; otherwise pick the runbook."""
        return "escalate" if state.get("escalation") else "select_runbook"

    def gate_rules(self, state: IncidentState, approval: Approval) -> tuple[Approval, str | None]:
        """Apply the workflow's timeout and approver roles to a decision: (final approval, escalation kind)."""
        rules = current_workflow(self.r, state).workflow.approval
        timeout_s = rules.timeout_s or self.r.settings.approval_timeout_s
        requested = (state.get("approval_requested_at") or {}).get(requested_key(approval.kind, approval.step_index))
        timed_out = approval.approver == "lumos:timeout"
        late = requested is not None and approval.decided_at.timestamp() > requested + timeout_s
        if timed_out or late:
            why = "timeout reported" if timed_out else f"decision arrived {approval.decided_at.timestamp() - requested:.0f}s after the request"
            return approval.model_copy(update={"decision": "reject", "approver": "lumos:timeout",
                                               "comment": f"approval timed out after {timeout_s:.0f}s ({why}); escalating"}), "gate_timeout"
        if approval.decision == "approve" and rules.approver_roles and approval.role not in rules.approver_roles:
            return approval.model_copy(update={"decision": "reject", "comment": (
                f"approval refused: role {approval.role!r} may not approve in this workflow (needs one of: "
                f"{', '.join(rules.approver_roles)}). {approval.comment}").strip()}), "rejected"
        return approval, ("rejected" if approval.decision == "reject" else None)

    def gate_info(self, state: IncidentState, key: str) -> dict[str, Any]:
        """What an approver should know about the gate whose `approval_requested_at` key is `key`: workflow, roles, deadline."""
        loaded = current_workflow(self.r, state)
        rules = loaded.workflow.approval
        timeout_s = rules.timeout_s or self.r.settings.approval_timeout_s
        requested = (state.get("approval_requested_at") or {}).get(key)
        return {"workflow": loaded.workflow.name, "approver_roles": list(rules.approver_roles), "timeout_s": timeout_s,
                "deadline": (requested + timeout_s) if requested is not None else None}

    def notify(self, state: IncidentState, reason: str, kind: str, summary: str) -> None:
        """Send the escalation to the workflow's notifiers (when it covers `kind`); record each outcome."""
        workflow = current_workflow(self.r, state).workflow
        if kind not in workflow.escalation.events:
            return
        settings = self.r.settings
        event = redact_value(EscalationEvent(
            incident_id=state["incident_id"], reason=reason, reason_kind=kind, workflow=workflow.name, summary=summary,
            hypotheses=top_summary(state.get("hypotheses") or []),
            console_url=f"{settings.console_url.rstrip('/')}/?incident={state['incident_id']}"))
        for i, target in enumerate([*self.r.notifiers, *workflow.escalation.notify]):
            result = send_notification(target.kind, target.url, event, retries=settings.notify_retries,
                                       backoff_s=settings.notify_backoff_s, timeout_s=settings.notify_timeout_s)
            self.r.audit.append(state["incident_id"], "notify.sent" if result.ok else "notify.failed",
                                {"target": target.name or target.kind, "result": result, "reason_kind": kind},
                                actor="graph:escalate", dedupe_key=f"notify:{i}")
