"""The approval-gate model: one request, one decision, bound to exactly one gate.

Every gate (a LangGraph `interrupt()` before a gated step, or before the rollback of a step that
was not approved with one) is described by a `GateRequest`. Its binding -- `gate_id`,
`step_index`, `action` and `params_hash` -- goes to every approver (API, web console, CLI,
triage chat, LangGraph Server) and must come back unchanged in the `GateDecision`:

* `params_hash` is the sha256 of the canonical JSON of the action, its params and its rollback,
  so an approval covers exactly what was shown, rollback included;
* `gate_id` is derived from the incident, the gate kind, the step and `params_hash`, so it names
  one gate of one incident (the "interrupt id" people copy into a decision).

A decision bound to another gate is refused (HTTP 409 on the server, `GateMismatch` in the
runner, a refusal recorded in the audit trail inside the graph) and nothing runs. A resume
value that is not a well-formed decision is a rejection (the gate fails closed). A decision
never carries params: what runs is what was planned and shown.
"""

from __future__ import annotations

import hashlib
import json
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.domain import PlannedStep
from lumos.tools.errors import LumosError

GateKind = Literal["step", "rollback"]
HEX64 = r"^[0-9a-f]{64}$"
GATE_ID = r"^g-[0-9a-f]{32}$"


def _canonical(value: Any) -> bytes:
    return json.dumps(value, sort_keys=True, separators=(",", ":"), ensure_ascii=False, default=str).encode()


def params_hash(action: str, params: dict[str, Any], rollback: dict[str, Any] | None = None) -> str:
    """sha256 of what an approval covers: the action, its params and (for a step) its declared rollback."""
    return hashlib.sha256(_canonical({"action": action, "params": params, "rollback": rollback})).hexdigest()


def step_params_hash(step: PlannedStep, kind: GateKind = "step") -> str:
    """The params hash of a planned step's gate (`kind="rollback"`: of its rollback alone)."""
    if kind == "rollback":
        if step.rollback is None:
            raise ValueError(f"step {step.index} declares no rollback")
        return params_hash(step.rollback.action, step.rollback.params)
    rollback = step.rollback.model_dump(mode="json") if step.rollback is not None else None
    return params_hash(step.action, step.params, rollback)


def gate_id(incident_id: str, kind: GateKind, step_index: int, action: str, digest: str) -> str:
    """The id of one gate of one incident (stable across re-runs of the gate node, different for every gate)."""
    body = _canonical({"incident": incident_id, "kind": kind, "step": step_index, "action": action, "params_hash": digest})
    return "g-" + hashlib.sha256(body).hexdigest()[:32]


class GateBinding(BaseModel):
    """What ties a decision to one gate; sent with every approval request and sent back with every decision."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    gate_id: str = Field(pattern=GATE_ID, description="The gate's id (its interrupt), from the approval request.")
    step_index: int = Field(ge=0, description="The plan step the gate guards.")
    action: str = Field(min_length=1, max_length=100, description="The action the gate would let run.")
    params_hash: str = Field(pattern=HEX64, description="sha256 of the action, params and rollback that were shown.")

    def mismatch(self, other: "GateBinding | dict[str, Any]") -> str | None:
        """Why `other` is bound to a different gate than this one, or None when it is this gate."""
        theirs = other.model_dump() if isinstance(other, GateBinding) else other
        for name in ("gate_id", "step_index", "action", "params_hash"):
            if theirs.get(name) != getattr(self, name):
                return (f"decision is for {name} {str(theirs.get(name))[:80]!r} but the pending gate has "
                        f"{str(getattr(self, name))[:80]!r}")
        return None


class GateRequest(GateBinding):
    """What an approver is shown (the interrupt value): the binding plus why the step is proposed."""

    model_config = ConfigDict(extra="ignore", frozen=True)

    type: Literal["approval_request"] = "approval_request"
    kind: GateKind = "step"
    incident_id: str
    step_id: str
    title: str
    params: dict[str, Any]
    destructive: bool
    rollback: dict[str, Any] | None = Field(default=None, description="The step's declared rollback (covered by the approval).")
    runbook: str | None = None
    hypothesis: dict[str, Any] | None = None
    evidence: list[str] = Field(default_factory=list)
    blast_radius: list[str] = Field(default_factory=list)
    workflow: str | None = None
    approver_roles: list[str] = Field(default_factory=list)
    timeout_s: float | None = None
    deadline: float | None = None

    def binding(self) -> GateBinding:
        """The fields a decision must send back."""
        return GateBinding(gate_id=self.gate_id, step_index=self.step_index, action=self.action, params_hash=self.params_hash)

    def decide(self, decision: str, approver: str, *, comment: str = "", role: str | None = None) -> "GateDecision":
        """A decision on this gate (bound to it)."""
        return GateDecision(**self.binding().model_dump(), decision=decision, approver=approver, comment=comment, role=role)


class GateDecision(GateBinding):
    """A human's (or the timeout sweep's) answer to one gate. `timeout` is a rejection by `lumos:timeout`."""

    decision: Literal["approve", "reject", "timeout"]
    approver: str = Field(min_length=1, max_length=200)
    comment: str = Field(default="", max_length=4000)
    role: str | None = Field(default=None, max_length=100, description="The approver's group; required when the workflow names roles.")


class GateMismatch(LumosError):
    """A decision names a gate that is not the one waiting (it moved on, or the decision is stale): nothing runs."""

    def __init__(self, message: str, pending: dict[str, Any] | None = None):
        super().__init__(message)
        self.pending = pending


def bind(request: dict[str, Any] | GateRequest, decision: dict[str, Any]) -> dict[str, Any]:
    """`decision` (decision/approver/comment/role) bound to `request`'s gate: the dict form of a GateDecision."""
    req = request if isinstance(request, GateRequest) else GateRequest.model_validate(request)
    return {**decision, **req.binding().model_dump()}


def binding_problem(request: GateRequest, answer: Any) -> str | None:
    """Why a resume value is a decision for another gate (None: it names this gate, or names none at all).

    A value that names no gate is not a mismatch but a malformed decision, which the gate rejects.
    """
    if not isinstance(answer, dict) or not any(name in answer for name in GateBinding.model_fields):
        return None
    return request.binding().mismatch(answer)


def requested_key(kind: GateKind, step_index: int) -> str:
    """The `approval_requested_at` key of a gate (when it first asked, for its deadline)."""
    return str(step_index) if kind == "step" else f"{kind}:{step_index}"
