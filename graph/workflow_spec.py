"""The schema of a workflow file: how one class of incident is handled (pydantic, extra=forbid)."""

from __future__ import annotations

from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.actions.policy import ApprovalPolicy, Severity

BUILTIN_AGENTS: tuple[str, ...] = ("log_analysis", "dependency_mapping")
"""Agents that are nodes of the graph today; plugin agents (entry point group `lumos.agents`) add to these."""

REQUIRED_AGENTS: tuple[str, ...] = ("dependency_mapping",)
"""Agents every workflow must run: correlation ranks hypotheses from the dependency report."""

EscalationEvent = Literal["gate_timeout", "rejected", "runbook_failed", "low_confidence", "no_runbook", "no_data", "stalled", "other"]
ESCALATION_EVENTS: tuple[str, ...] = ("gate_timeout", "rejected", "runbook_failed", "low_confidence", "no_runbook", "no_data", "stalled",
                                      "other")


class _Spec(BaseModel):
    model_config = ConfigDict(extra="forbid", frozen=True)


class MatchRule(_Spec):
    """Which alerts a workflow handles; every given field must hold (an empty rule matches everything)."""

    labels: dict[str, str] = Field(default_factory=dict, description="Alert label -> glob pattern (fnmatch, case-insensitive).")
    severity: list[str] = Field(default_factory=list, description="Alert severities (any of); empty = any.")
    service_kind: list[Literal["service", "database", "cache", "queue", "external"]] = Field(
        default_factory=list, description="Kind of the alerting service in the topology (any of); empty = any.")
    environment: list[str] = Field(default_factory=list, description="Value of the alert's `environment` or `env` label (any of).")


class Stage(_Spec):
    """Agents that run in parallel; `after` names the stages that must finish first."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    agents: list[str] = Field(min_length=1)
    after: list[str] = Field(default_factory=list)


class BranchWhen(_Spec):
    """A condition on the top hypothesis after diagnosis; every given field must hold."""

    fault_type: str | None = None
    min_confidence: float | None = Field(default=None, ge=0, le=1)
    max_confidence: float | None = Field(default=None, ge=0, le=1, description="Strictly below this confidence.")
    below_action_threshold: bool = Field(
        default=False,
        description="Strictly below the diagnosis model's calibrated action threshold (calibration.action_threshold, "
        "set with LUMOS_DIAGNOSIS_MODEL): the top hypothesis is more likely wrong than the threshold allows acting on.",
    )


class Branch(_Spec):
    """First matching branch wins: run a named runbook, or escalate to humans."""

    name: str = Field(pattern=r"^[a-z][a-z0-9_-]*$")
    when: BranchWhen = Field(default_factory=BranchWhen)
    runbook: str | None = Field(default=None, description="Runbook id to run (skips retrieval).")
    escalate: bool = Field(default=False, description="Hand the incident to a human (a low-confidence diagnosis, say).")
    reason: str = ""


class WorkflowApproval(_Spec):
    """Which steps wait for a human, who may decide, and for how long (destructive steps are always gated)."""

    approve_every_step: bool = False
    approve_in_production: bool = False
    approve_at_severity: Severity | None = None
    gate_actions: list[str] = Field(default_factory=list, description="Actions that are gated even when read-only.")
    approver_roles: list[str] = Field(default_factory=list, description="When given, an approval must carry one of these roles.")
    timeout_s: float | None = Field(default=None, gt=0, description="Seconds a gate waits; default LUMOS_APPROVAL_TIMEOUT_S.")
    on_timeout: Literal["escalate"] = "escalate"

    def policy(self, default_timeout_s: float) -> ApprovalPolicy:
        """The equivalent `ApprovalPolicy` for `plan_steps(policy=...)`."""
        return ApprovalPolicy(
            approve_every_step=self.approve_every_step, approve_in_production=self.approve_in_production,
            approve_at_severity=self.approve_at_severity, approver_roles=self.approver_roles or ["oncall"],
            timeout_s=self.timeout_s or default_timeout_s, on_timeout=self.on_timeout,
        )


class NotifyTarget(_Spec):
    """Where escalations are sent: a generic JSON webhook or a Slack-compatible incoming webhook."""

    kind: Literal["webhook", "slack"]
    url: str = Field(pattern=r"^https?://")
    name: str = ""


class Escalation(_Spec):
    """Who is told when the incident escalates, and for which reasons."""

    notify: list[NotifyTarget] = Field(default_factory=list)
    events: list[EscalationEvent] = Field(default_factory=lambda: list(ESCALATION_EVENTS))


class Workflow(_Spec):
    """One declared workflow (a `*.yaml` file)."""

    name: str = Field(pattern=r"^[a-z][a-z0-9-]*$")
    description: str = ""
    priority: int = Field(default=0, description="Higher wins when several workflows match one alert.")
    fallback: bool = Field(default=False, description="Used when no other workflow matches (exactly one workflow).")
    match: MatchRule = Field(default_factory=MatchRule)
    stages: list[Stage] = Field(default_factory=lambda: [Stage(name="analysis", agents=list(BUILTIN_AGENTS))], min_length=1)
    branches: list[Branch] = Field(default_factory=list)
    approval: WorkflowApproval = Field(default_factory=WorkflowApproval)
    escalation: Escalation = Field(default_factory=Escalation)
