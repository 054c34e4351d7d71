"""Remediation nodes: pick a runbook, plan it, gate, execute, verify, roll back, escalate, resolve."""

from __future__ import annotations

import time
from typing import Any, Literal

from langchain_core.runnables import RunnableConfig
from langgraph.types import interrupt

from lumos.agents.llm.runbook_agent import select_runbook_llm

from lumos.agents.runbook_executor import incident_context, plan_steps, select_runbook
from lumos.graph.diagnosis import with_model
from lumos.graph.gate import requested_key
from lumos.graph.gate_nodes import GateNodes
from lumos.graph.resources import Resources
from lumos.graph.sources import open_sources
from lumos.graph.state import IncidentState
from lumos.graph.workflow_nodes import WorkflowNodes, current_workflow
from lumos.tools.domain import ActionResult, PlannedStep, RunbookChoice
from lumos.tools.runbooks.templating import render_params


def step_key(incident_id: str, step: PlannedStep, attempt: int = 1) -> str:
    """Idempotency key of one attempt of one step: a resumed run never repeats a completed action."""
    return f"{incident_id}:step{step.index}:{step.step_id}:attempt{attempt}"


def plan_context(state: IncidentState, target: str) -> dict[str, str]:
    """Variables runbook params may use ({{ service }} ...), taken from the incident, never from free text."""
    alert = state["alert"]
    sources = open_sources(state.get("sources"))
    hypotheses = [h for h in (state.get("hypotheses") or []) if h.service == target] or (state.get("hypotheses") or [])[:1]
    if not hypotheses:
        return {"service": target, "alert_service": alert.service or target, "incident_id": state["incident_id"]}
    hypothesis = hypotheses[0].model_copy(update={"service": target})
    changes = [c for c in sources.changes if c.ts <= alert.starts_at]
    environment = alert.labels.get("environment") or alert.labels.get("env") or "production"
    return incident_context(
        hypothesis, sources.topology, alert_service=alert.service, incident_id=state["incident_id"],
        severity=alert.severity, changes=changes, environment=environment,
    )


class RemediationNodes:
    """The nodes that act on a diagnosis, always through the approval gate for destructive steps."""

    def __init__(self, resources: Resources):
        self.r = resources
        self.wf = WorkflowNodes(resources)
        self.gates = GateNodes(resources)

    def _audit(self, state: IncidentState, kind: str, data: dict[str, Any], *, actor: str = "lumos", key: str | None = None) -> None:
        self.r.audit.append(state["incident_id"], kind, data, actor=actor, dedupe_key=key)

    def select_runbook(self, state: IncidentState, config: RunnableConfig) -> dict[str, Any]:
        """Runbook agent: retrieve the runbook that fits the top hypothesis (the model may refine the pick)."""
        hypotheses = state.get("hypotheses") or []
        if not hypotheses:
            return {"runbook": None, "escalation": "no root-cause hypothesis to act on", "escalation_kind": "no_runbook"}
        branch = state.get("branch") or {}
        if branch.get("runbook"):
            return self._branch_runbook(state, branch)
        alert = state["alert"]
        context = plan_context(state, hypotheses[0].service)
        choice = select_runbook(
            hypotheses,
            index=self.r.index,
            library=self.r.library,
            topology=open_sources(state.get("sources")).topology,
            alert_text=f"{alert.name} {alert.summary} {alert.description}",
            backend=self.r.backend_for(state["incident_id"]),
            context=context,
        )
        choice, extra = with_model(
            self.r, "runbook_executor", state, config, choice,
            lambda model: select_runbook_llm(
                model, self.r.settings, incident_id=state["incident_id"], alert=alert, hypotheses=hypotheses,
                library=self.r.library, index=self.r.index, registry=self.r.registry, context=context, offline=choice,
            ),
        )
        self._audit(state, "runbook.selected", {"choice": choice}, actor="agent:runbook_executor", key="runbook.selected")
        if choice is None:
            return {"runbook": None, "escalation": f"no runbook matches {hypotheses[0].fault_type} on {hypotheses[0].service}",
                    "escalation_kind": "no_runbook", **extra}
        return {"runbook": choice, **extra}

    def _branch_runbook(self, state: IncidentState, branch: dict[str, Any]) -> dict[str, Any]:
        """The runbook a workflow branch names (no retrieval): the fast path, e.g. roll back a bad deploy."""
        top = state["hypotheses"][0]
        runbook = self.r.library.get(branch["runbook"])
        workflow = current_workflow(self.r, state).workflow.name
        choice = RunbookChoice(runbook_id=runbook.id, title=runbook.title, score=1.0, target_service=top.service,
                               reason=f"workflow {workflow} branch {branch['name']}: {branch.get('reason') or 'named runbook'}")
        self._audit(state, "runbook.selected", {"choice": choice, "branch": branch["name"]}, actor="graph:workflow", key="runbook.selected")
        return {"runbook": choice}

    def plan(self, state: IncidentState) -> dict[str, Any]:
        """Render the runbook's steps for this incident and check its preconditions."""
        choice = state["runbook"]
        runbook = self.r.library.get(choice.runbook_id)
        rules = current_workflow(self.r, state).workflow.approval
        steps = plan_steps(runbook, plan_context(state, choice.target_service), registry=self.r.registry,
                           policy=rules.policy(self.r.settings.approval_timeout_s))
        steps = [s.model_copy(update={"requires_approval": True}) if s.action in rules.gate_actions else s for s in steps]
        backend = self.r.backend_for(state["incident_id"])
        failed = []
        for pre in runbook.preconditions:
            params = render_params(pre.params, plan_context(state, choice.target_service))
            result = backend.check(pre.check, params)
            if not getattr(result, "ok", False):
                failed.append(f"{pre.check}: {getattr(result, 'detail', '')}")
        self._audit(
            state,
            "plan.ready",
            {"runbook": runbook.id, "steps": [s.model_dump(mode="json") for s in steps], "preconditions_failed": failed},
            actor="agent:runbook_executor",
            key="plan.ready",
        )
        if failed:
            return {"plan": steps, "step_index": 0, "escalation": "preconditions failed: " + "; ".join(failed), "escalation_kind": "runbook_failed"}
        return {"plan": steps, "step_index": 0, "status": "remediating"}

    def next_step(self, state: IncidentState) -> dict[str, Any]:
        """Where the plan loop decides what comes next (see routing); records when a gated step first asks for approval.

        The time is written here, before the gate, because state written by the node that interrupts is lost.
        """
        plan, index = state.get("plan") or [], state.get("step_index", 0)
        if 0 <= index < len(plan) and (plan[index].requires_approval or plan[index].destructive):
            if str(index) not in (state.get("approval_requested_at") or {}):
                return {"approval_requested_at": {str(index): time.time()}}
        return {}

    def execute_step(self, state: IncidentState) -> dict[str, Any]:
        """Run one step through the action backend; a gated step runs only with its approval in the audit trail."""
        step = state["plan"][state["step_index"]]
        approval = None
        if step.requires_approval or step.destructive:
            approval = self.gates.approved(state, self.gates.request(state, step, "step"))
            if approval is None:
                self._audit(state, "action.blocked", {"step": step.index, "action": step.action,
                                                      "reason": "no matching approval.decided record in the audit trail"},
                            actor="graph:execute_step", key=f"action.blocked:{step.index}")
                return {"escalation": f"step {step.index} ({step.action}) has no recorded approval; not executed",
                        "escalation_kind": "other"}
        backend = self.r.backend_for(state["incident_id"])
        outcome = backend.execute(step.action, step.params, idempotency_key=step_key(state["incident_id"], step), dry_run=False)
        result = outcome.to_action_result(
            step_index=step.index, destructive=step.destructive, approved_by=approval.approver if approval else None
        )
        self._audit(state, "action.executed", {"result": result}, actor="graph:execute_step", key=f"action.executed:{step.index}")
        return {"results": [result]}

    def verify(self, state: IncidentState) -> dict[str, Any]:
        """Check the step worked: the action succeeded and its verify check (if any) passes."""
        step = state["plan"][state["step_index"]]
        result = next((r for r in reversed(state.get("results") or []) if r.step_index == step.index), None)
        ok = result is not None and result.status in ("ok", "dry_run")
        detail = result.output if result else "no result recorded"
        if ok and step.verify is not None:
            check = self.r.backend_for(state["incident_id"]).check(step.verify.check, step.verify.params)
            ok, detail = bool(getattr(check, "ok", False)), str(getattr(check, "detail", ""))
        self._audit(state, "step.verified", {"step": step.index, "ok": ok, "detail": detail}, key=f"step.verified:{step.index}")
        if ok:
            return {"step_index": state["step_index"] + 1}
        update: dict[str, Any] = {"escalation": f"step {step.index} ({step.action}) failed verification: {detail}",
                                  "escalation_kind": "runbook_failed"}
        if self.rollback_needs_gate(step):  # the rollback gate's deadline starts now (an interrupting node's writes are lost)
            update["approval_requested_at"] = {requested_key("rollback", step.index): time.time()}
        return update

    def rollback_needs_gate(self, step: PlannedStep) -> bool:
        """True when a step's rollback is destructive and the step's own approval does not cover it (the step was not gated)."""
        if step.rollback is None or step.requires_approval or step.destructive:
            return False
        return self.r.registry.is_destructive(step.rollback.action)

    def after_verify(self, state: IncidentState) -> Literal["next_step", "rollback", "rollback_gate"]:
        """Router: verified -> next step; failed -> roll back (through the rollback's own gate when it needs one)."""
        if not state.get("escalation"):
            return "next_step"
        return "rollback_gate" if self.rollback_needs_gate(state["plan"][state["step_index"]]) else "rollback"

    def rollback(self, state: IncidentState) -> dict[str, Any]:
        """Undo a failed step with its declared rollback, exactly as planned (and approved), then escalate.

        A gated step's approval covers its rollback (the request showed it and `params_hash` includes it); a destructive
        rollback of an ungated step passed its own gate. Either way the approval must be in the audit trail.
        """
        step = state["plan"][state["step_index"]]
        if step.rollback is None:
            self._audit(state, "rollback.none", {"step": step.index}, key=f"rollback:{step.index}")
            return {}
        approval = None
        if step.requires_approval or step.destructive or self.rollback_needs_gate(step):
            kind = "step" if (step.requires_approval or step.destructive) else "rollback"
            approval = self.gates.approved(state, self.gates.request(state, step, kind))
            if approval is None:
                self._audit(state, "action.blocked", {"step": step.index, "action": step.rollback.action, "rollback": True,
                                                      "reason": "no matching approval.decided record in the audit trail"},
                            actor="graph:rollback", key=f"rollback.blocked:{step.index}")
                return {"escalation": f"rollback of step {step.index} ({step.rollback.action}) has no recorded approval; not executed"}
        backend = self.r.backend_for(state["incident_id"])
        key = f"{state['incident_id']}:step{step.index}:rollback"
        outcome = backend.execute(step.rollback.action, step.rollback.params, idempotency_key=key, dry_run=False)
        result: ActionResult = outcome.to_action_result(step_index=step.index, destructive=step.destructive,
                                                        approved_by=approval.approver if approval else None)
        self._audit(state, "rollback.executed", {"result": result}, key=f"rollback:{step.index}")
        return {"results": [result]}

    def escalate(self, state: IncidentState) -> dict[str, Any]:
        """Hand the incident to a human with the reason and what was found."""
        reason = state.get("escalation") or "escalated"
        kind = state.get("escalation_kind") or "other"
        self._audit(state, "incident.escalated", {"reason": reason, "kind": kind}, key="incident.escalated")
        summary = summarize(state, f"Escalated: {reason}")
        self.wf.notify(state, reason, kind, summary)
        return {"status": "escalated", "summary": summary}

    def resolve(self, state: IncidentState) -> dict[str, Any]:
        """Run the runbook's post-checks; resolved only when they pass."""
        choice = state.get("runbook")
        failed: list[str] = []
        if choice is not None:
            runbook = self.r.library.get(choice.runbook_id)
            backend = self.r.backend_for(state["incident_id"])
            context = plan_context(state, choice.target_service)
            for post in runbook.post_checks:
                result = backend.check(post.check, render_params(post.params, context))
                if not getattr(result, "ok", False):
                    failed.append(f"{post.check}: {getattr(result, 'detail', '')}")
        if failed:
            reason = "post-checks failed: " + "; ".join(failed)
            self._audit(state, "incident.escalated", {"reason": reason, "kind": "runbook_failed"}, key="incident.escalated")
            summary = summarize(state, f"Escalated: {reason}")
            self.wf.notify(state, reason, "runbook_failed", summary)
            return {"status": "escalated", "escalation": reason, "escalation_kind": "runbook_failed", "summary": summary}
        elapsed = time.time() - state.get("started_at", time.time())
        self._audit(state, "incident.resolved", {"seconds": round(elapsed, 3)}, key="incident.resolved")
        return {"status": "resolved", "summary": summarize(state, "Resolved"), "timings": {"resolution_s": elapsed}}


def summarize(state: IncidentState, outcome: str) -> str:
    """A short human summary of the incident: outcome, top hypothesis, runbook and actions."""
    lines = [outcome]
    hypotheses = state.get("hypotheses") or []
    if hypotheses:
        top = hypotheses[0]
        lines.append(f"Root cause: {top.service} ({top.fault_type}, confidence {top.confidence:.2f})")
    if state.get("runbook"):
        lines.append(f"Runbook: {state['runbook'].runbook_id}")
    for result in state.get("results") or []:
        lines.append(f"Step {result.step_index}: {result.action} -> {result.status}")
    return "\n".join(lines)
