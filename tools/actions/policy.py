"""Approval policy: which planned steps wait for a human, who may approve, and what a timeout does.

`requires_approval` is a pure function and never returns False for a destructive action, whatever
the policy says; a policy can only add gates (production, severity, every step). Overrides
("approve with changed parameters") are validated against the action's own schema by
`validate_override`, so an approver cannot introduce a parameter the action does not take.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.actions.registry import ActionRegistry, ParamsError
from lumos.tools.domain import PlannedStep

SEVERITIES: tuple[str, ...] = ("info", "warning", "error", "critical")
Severity = Literal["info", "warning", "error", "critical"]


class ApprovalPolicy(BaseModel):
    """When a runbook step must wait for a human decision (destructive steps always do)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    approve_every_step: bool = Field(default=False, description="Gate every step, read-only ones included.")
    approve_in_production: bool = Field(default=False, description="Gate every step when the incident's environment is a production one.")
    production_environments: list[str] = Field(default_factory=lambda: ["production", "prod"], min_length=1,
                                               description="Environment names counted as production (case-insensitive).")
    approve_at_severity: Severity | None = Field(default=None, description="Gate every step when the incident severity is at or above "
                                                 "this (info < warning < error < critical); unknown severities count as critical.")
    approver_roles: list[str] = Field(default_factory=lambda: ["oncall"], min_length=1,
                                      description="Roles whose members may approve or reject a gated step.")
    timeout_s: float = Field(default=3600.0, gt=0, description="How long a gated step waits for a decision.")
    on_timeout: Literal["escalate"] = Field(default="escalate", description="What happens when nobody decides in time: the step is "
                                            "not run and the incident escalates (a timeout is never an approval).")


def severity_rank(severity: str) -> int:
    """Position of a severity in info < warning < error < critical; unknown names rank as critical (fail safe)."""
    name = severity.strip().lower()
    return SEVERITIES.index(name) if name in SEVERITIES else len(SEVERITIES) - 1


def requires_approval(step: PlannedStep | str, *, destructive: bool, environment: str, severity: str,
                      policy: ApprovalPolicy) -> bool:
    """Whether this step (or action name) must wait for a human under `policy`; always True when destructive."""
    if destructive or (isinstance(step, PlannedStep) and step.destructive):
        return True
    if policy.approve_every_step:
        return True
    if policy.approve_in_production and environment.strip().lower() in {e.lower() for e in policy.production_environments}:
        return True
    if policy.approve_at_severity is not None and severity_rank(severity) >= severity_rank(policy.approve_at_severity):
        return True
    return False


def may_approve(role: str, policy: ApprovalPolicy) -> bool:
    """Whether someone with `role` may decide on a gated step."""
    return role in policy.approver_roles


def validate_override(action: str, params: Mapping[str, Any], registry: ActionRegistry) -> dict[str, Any]:
    """Check an approver's changed parameters against the action's schema; the clean parameters, or ParamsError naming the param."""
    if action not in registry:
        raise ParamsError(action, None, f"unknown action; valid: {', '.join(registry.names())}")
    if not isinstance(params, Mapping):
        raise ParamsError(action, None, f"parameters must be a mapping, got {type(params).__name__}")
    unknown = sorted(set(params) - set(registry.get(action).params.model_fields))
    if unknown:
        valid = ", ".join(sorted(registry.get(action).params.model_fields))
        raise ParamsError(action, unknown[0], f"not a parameter of {action}; valid: {valid}")
    return registry.validate(action, params).model_dump(mode="json", exclude_none=True)
