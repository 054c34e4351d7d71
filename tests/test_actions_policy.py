"""Approval policy: destructive steps are always gated; production, severity and every-step options; overrides."""

from __future__ import annotations

import pytest
from pydantic import ValidationError

from lumos.agents.runbook_executor import plan_steps
from lumos.tools.actions import ParamsError, default_action_registry
from lumos.tools.actions.policy import ApprovalPolicy, may_approve, requires_approval, severity_rank, validate_override
from lumos.tools.runbooks import RunbookLibrary

REGISTRY = default_action_registry()
EVERY_OPTION = ApprovalPolicy(approve_every_step=True, approve_in_production=True, approve_at_severity="info")


@pytest.mark.parametrize("policy", [ApprovalPolicy(), EVERY_OPTION, ApprovalPolicy(approve_at_severity="critical")])
@pytest.mark.parametrize("environment", ["production", "staging", "dev", ""])
@pytest.mark.parametrize("severity", ["info", "warning", "critical", "bogus"])
def test_destructive_is_always_gated(policy: ApprovalPolicy, environment: str, severity: str) -> None:
    for action in REGISTRY:
        if REGISTRY.is_destructive(action):
            assert requires_approval(action, destructive=True, environment=environment, severity=severity, policy=policy)


def test_options_add_gates_for_safe_steps() -> None:
    def gated(policy: ApprovalPolicy, environment: str = "staging", severity: str = "warning") -> bool:
        return requires_approval("notify", destructive=False, environment=environment, severity=severity, policy=policy)

    assert not gated(ApprovalPolicy())
    assert not gated(ApprovalPolicy(), environment="production")
    assert gated(ApprovalPolicy(approve_every_step=True))
    prod = ApprovalPolicy(approve_in_production=True)
    assert gated(prod, environment="Production") and gated(prod, environment="prod") and not gated(prod)
    assert gated(ApprovalPolicy(approve_in_production=True, production_environments=["live"]), environment="live")
    sev = ApprovalPolicy(approve_at_severity="error")
    assert not gated(sev, severity="warning") and gated(sev, severity="error") and gated(sev, severity="CRITICAL")
    assert gated(sev, severity="sev0-unknown")  # unknown severities count as critical
    assert severity_rank("info") < severity_rank("warning") < severity_rank("error") < severity_rank("critical")


def test_policy_is_strict_and_documents_timeout_and_roles() -> None:
    with pytest.raises(ValidationError):
        ApprovalPolicy(approve_everything=True)
    with pytest.raises(ValidationError):
        ApprovalPolicy(on_timeout="approve")
    with pytest.raises(ValidationError):
        ApprovalPolicy(approve_at_severity="sev1")
    with pytest.raises(ValidationError):
        ApprovalPolicy(timeout_s=0)
    policy = ApprovalPolicy(approver_roles=["sre-lead", "oncall"], timeout_s=900)
    assert policy.on_timeout == "escalate" and policy.timeout_s == 900
    assert may_approve("sre-lead", policy) and not may_approve("developer", policy)


def test_plan_steps_applies_the_policy() -> None:
    runbook = RunbookLibrary.load().get("free-disk-space")
    ctx = {"service": "api", "environment": "production", "severity": "warning"}
    default = plan_steps(runbook, ctx, registry=REGISTRY)
    assert [s.requires_approval for s in default] == [False, True]
    prod = plan_steps(runbook, ctx, registry=REGISTRY, policy=ApprovalPolicy(approve_in_production=True))
    assert [s.requires_approval for s in prod] == [True, True]
    staging = plan_steps(runbook, {**ctx, "environment": "staging"}, registry=REGISTRY, policy=ApprovalPolicy(approve_in_production=True))
    assert [s.requires_approval for s in staging] == [False, True]
    high = plan_steps(runbook, {**ctx, "severity": "critical"}, registry=REGISTRY, policy=ApprovalPolicy(approve_at_severity="critical"))
    assert [s.requires_approval for s in high] == [True, True]
    for step in plan_steps(runbook, ctx, registry=REGISTRY, policy=ApprovalPolicy()):
        assert requires_approval(step, destructive=False, environment="dev", severity="info", policy=ApprovalPolicy()) == step.destructive


def test_validate_override_checks_the_action_schema() -> None:
    assert validate_override("scale_service", {"service": "api", "replicas": 6}, REGISTRY) == {"service": "api", "replicas": 6}
    assert validate_override("free_disk", {"service": "api", "older_than_hours": 48}, REGISTRY)["path"] == "/var/log"
    with pytest.raises(ParamsError) as too_many:
        validate_override("scale_service", {"service": "api", "replicas": 500}, REGISTRY)
    assert too_many.value.field == "replicas"
    with pytest.raises(ParamsError) as unknown:
        validate_override("restart_service", {"service": "api", "command": "rm -rf /"}, REGISTRY)
    assert unknown.value.field == "command" and "valid: instance, service" in str(unknown.value)
    with pytest.raises(ParamsError) as bad_name:
        validate_override("restart_service", {"service": "api; rm -rf /"}, REGISTRY)
    assert bad_name.value.field == "service"
    with pytest.raises(ParamsError, match="unknown action"):
        validate_override("run_shell", {"cmd": "ls"}, REGISTRY)
    with pytest.raises(ParamsError) as missing:
        validate_override("set_connection_pool", {"service": "api"}, REGISTRY)
    assert missing.value.field == "size"
