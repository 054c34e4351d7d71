"""Run incidents on the graph: start, pause at approval gates, resume (in any process), inspect."""

from __future__ import annotations

import secrets
import time
from collections.abc import Callable
from datetime import datetime, timezone
from typing import Any

from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.types import Command
from pydantic import BaseModel, ConfigDict

from lumos.graph.builder import build_graph
from lumos.graph.gate import GateDecision, GateMismatch, GateRequest, binding_problem, bind, gate_id, step_params_hash
from lumos.graph.resources import Resources
from lumos.graph.state import SourceSpec
from lumos.tools.domain import ActionResult, Alert, Approval, Hypothesis, PlannedStep, RunbookChoice
from lumos.tools.errors import NotFoundError
from lumos.tools.redact import redact_value

ProgressHook = Callable[[str], None]
"""Called with a node's name each time a node of the incident graph finishes."""

Decider = Callable[[dict[str, Any]], dict[str, Any] | None]
"""Given an approval request, return a decision ({decision, approver, comment}) or None to stop and wait."""

TERMINAL_STATUSES = frozenset({"resolved", "escalated"})
"""Graph statuses an incident never leaves (a rejection ends `escalated`)."""


class IncidentOutcome(BaseModel):
    """Where an incident stands after the graph stopped (finished or paused at a gate)."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    incident_id: str
    status: str
    pending: dict[str, Any] | None = None
    hypotheses: list[Hypothesis] = []
    runbook: RunbookChoice | None = None
    plan: list[PlannedStep] = []
    results: list[ActionResult] = []
    approvals: list[Approval] = []
    escalation: str | None = None
    summary: str | None = None
    timings: dict[str, float] = {}
    notes: list[str] = []
    workflow: dict[str, str] | None = None
    """The workflow handling the incident: {"name", "reason"}."""

    @property
    def waiting(self) -> bool:
        """True when the incident is paused at an approval gate."""
        return self.pending is not None


def _legacy_binding(incident_id: str, values: dict[str, Any], request: dict[str, Any]) -> dict[str, Any]:
    """The gate binding of a request made before requests carried one (the gate recomputes the same on resume)."""
    if "gate_id" in request:
        return {}
    plan, index = values.get("plan") or [], request.get("step_index")
    if not isinstance(index, int) or not 0 <= index < len(plan):
        return {}
    step = plan[index]
    digest = step_params_hash(step)
    return {"gate_id": gate_id(incident_id, "step", step.index, step.action, digest), "action": step.action, "params_hash": digest}


def new_incident_id(prefix: str = "inc") -> str:
    """A sortable, unique, filesystem-safe incident id."""
    return f"{prefix}-{datetime.now(timezone.utc).strftime('%Y%m%d-%H%M%S')}-{secrets.token_hex(3)}"


class IncidentRunner:
    """Drives incidents through the compiled graph with a persistent checkpointer."""

    def __init__(self, resources: Resources, checkpointer: BaseCheckpointSaver):
        self.resources = resources
        self.graph = build_graph(resources, checkpointer=checkpointer)

    @staticmethod
    def _config(incident_id: str) -> dict[str, Any]:
        return {"configurable": {"thread_id": incident_id}}

    def _run(self, graph_input: Any, incident_id: str, progress: ProgressHook | None) -> IncidentOutcome:
        # durability="sync": a step's checkpoint is on disk before the next step starts (no action runs ahead of it).
        for update in self.graph.stream(graph_input, self._config(incident_id), stream_mode="updates", durability="sync"):
            if progress is not None:
                for node in update:
                    if not node.startswith("__"):
                        progress(node)
        return self.outcome(incident_id)

    def start(
        self, alert: Alert, sources: SourceSpec, *, incident_id: str | None = None, progress: ProgressHook | None = None,
        workflow: str | None = None,
    ) -> IncidentOutcome:
        """Open an incident for `alert` and run it until it finishes or reaches an approval gate.

        `workflow` names the workflow to use instead of matching the alert (an unknown name falls back to matching).
        """
        incident_id = incident_id or new_incident_id()
        # The graph input is checkpointed as it is: secrets in the alert are redacted before it gets there.
        initial: dict[str, Any] = {"incident_id": incident_id, "alert": redact_value(alert), "sources": sources, "started_at": time.time()}
        if workflow:
            initial["workflow"] = {"name": workflow, "reason": "requested when the incident was opened"}
        return self._run(initial, incident_id, progress)

    def resume(self, incident_id: str, decision: dict[str, Any] | GateDecision, *, progress: ProgressHook | None = None) -> IncidentOutcome:
        """Answer the pending approval gate of `incident_id` with a decision bound to it, and continue.

        A decision bound to another gate (the incident moved on, or it is stale) raises GateMismatch and nothing runs.
        A decision that names no gate goes to the gate as it is, which rejects it as malformed (fail closed).
        """
        current = self.outcome(incident_id)
        if not current.waiting:
            raise NotFoundError(f"incident {incident_id} is not waiting for an approval (status: {current.status})")
        payload = decision.model_dump(mode="json") if isinstance(decision, GateDecision) else decision
        pending = current.pending or {}
        problem = binding_problem(GateRequest.model_validate(pending), payload)
        if problem is not None:
            raise GateMismatch(f"incident {incident_id}: {problem}; nothing was run", pending=pending)
        target = pending.get("interrupt_id")
        payload = redact_value(payload)  # a resume value is checkpointed as it is (comments are free text)
        return self._run(Command(resume={target: payload} if target else payload), incident_id, progress)

    def drive(self, outcome: IncidentOutcome, decide: Decider, *, progress: ProgressHook | None = None) -> IncidentOutcome:
        """Keep answering gates with `decide` (each decision is bound to the request it was shown) while it returns decisions."""
        while outcome.waiting:
            request = outcome.pending or {}
            decision = decide(request)
            if decision is None:
                break
            outcome = self.resume(outcome.incident_id, bind(request, decision), progress=progress)
        return outcome

    def pending_tasks(self, incident_id: str) -> tuple[str, ...]:
        """Nodes of the thread's current step that still have to run or whose saved writes were not applied yet.

        LangGraph lists no `next` node when every task of an interrupted step already saved its writes; those
        tasks are still pending work: `stream(None)` applies their writes and continues. Gates (interrupts) are not listed.
        """
        snapshot = self.graph.get_state(self._config(incident_id))
        return tuple(task.name for task in snapshot.tasks if not task.interrupts)

    def continue_run(self, incident_id: str, *, progress: ProgressHook | None = None) -> IncidentOutcome:
        """Continue a thread from its last checkpoint (after a crash): pending writes are applied, unfinished nodes re-run."""
        return self._run(None, incident_id, progress)

    def escalate_stalled(self, incident_id: str, reason: str, *, progress: ProgressHook | None = None) -> IncidentOutcome:
        """Hand an incident that cannot go on to a human: record why and run the escalate node (audit record, notifications)."""
        self.graph.update_state(self._config(incident_id), {"escalation": reason, "escalation_kind": "stalled"}, as_node="rollback")
        return self._run(None, incident_id, progress)

    def exists(self, incident_id: str) -> bool:
        """True when the checkpointer has a thread for this incident."""
        return bool(self.graph.get_state(self._config(incident_id)).values)

    def outcome(self, incident_id: str) -> IncidentOutcome:
        """The incident's current state, with the pending approval request if it is paused."""
        snapshot = self.graph.get_state(self._config(incident_id))
        values = snapshot.values
        if not values:
            raise NotFoundError(f"no incident {incident_id!r} in this state folder")
        pending = None
        for interrupt in getattr(snapshot, "interrupts", ()) or ():
            if isinstance(interrupt.value, dict) and interrupt.value.get("type") == "approval_request":
                pending = {**_legacy_binding(incident_id, values, interrupt.value), **interrupt.value, "interrupt_id": interrupt.id}
                break
        status = "awaiting_approval" if pending is not None else values.get("status", "open")
        return IncidentOutcome(
            incident_id=incident_id,
            status=status,
            pending=pending,
            hypotheses=values.get("hypotheses") or [],
            runbook=values.get("runbook"),
            plan=values.get("plan") or [],
            results=values.get("results") or [],
            approvals=values.get("approvals") or [],
            escalation=values.get("escalation"),
            summary=values.get("summary"),
            timings=values.get("timings") or {},
            notes=values.get("notes") or [],
            workflow=values.get("workflow"),
        )

    def values(self, incident_id: str) -> dict[str, Any]:
        """The raw checkpointed state of an incident."""
        return dict(self.graph.get_state(self._config(incident_id)).values)
