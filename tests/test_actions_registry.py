"""The action and check registries: names, typed params, destructive defaults, descriptions."""

from __future__ import annotations

import pytest

from lumos.tools.actions import ParamsError, default_action_registry, default_check_registry
from lumos.tools.actions.backend import ExecutionOutcome, idempotency_key

REQUIRED_ACTIONS = {
    "restart_service", "scale_service", "rollback_deploy", "revert_config", "failover_database", "free_disk",
    "set_connection_pool", "shed_load", "circuit_break", "clear_cache", "drain_instance", "collect_diagnostics", "notify",
}


def test_required_actions_are_registered_with_descriptions() -> None:
    registry = default_action_registry()
    assert REQUIRED_ACTIONS <= set(registry.names())
    for name in registry:
        spec = registry.get(name)
        assert len(spec.description) > 40 and "simulated" in spec.backends
        assert spec.params.model_config.get("extra") == "forbid"


def test_only_read_only_actions_are_non_destructive() -> None:
    registry = default_action_registry()
    safe = {n for n in registry if not registry.is_destructive(n)}
    assert safe == {"collect_diagnostics", "notify"}


def test_params_are_typed_and_strict() -> None:
    registry = default_action_registry()
    assert registry.validate("scale_service", {"service": "api", "delta": "2"}).delta == 2
    with pytest.raises(ParamsError) as exc:
        registry.validate("scale_service", {"service": "api"})
    assert "exactly one" in exc.value.message
    with pytest.raises(ParamsError) as exc:
        registry.validate("restart_service", {"service": "api", "cmd": "reboot"})
    assert exc.value.field == "cmd"
    with pytest.raises(ParamsError):
        registry.validate("restart_service", {"service": "api && reboot"})
    with pytest.raises(ParamsError, match="unknown action"):
        registry.validate("exec", {})
    with pytest.raises(KeyError, match="valid: circuit_break"):
        registry.get("exec")
    assert registry.validate_params("notify", {"message": "hi"}).channel == "#incidents"


def test_checks_registry() -> None:
    checks = default_check_registry()
    assert {"service_healthy", "replicas_at_least", "version_is", "error_rate_below"} <= set(checks.names())
    assert checks.validate("replicas_at_least", {"service": "api", "replicas": 3}).replicas == 3
    with pytest.raises(ParamsError):
        checks.validate("version_is", {"service": "api"})


def test_outcome_to_action_result_and_keys() -> None:
    outcome = ExecutionOutcome(action="notify", params={"message": "x"}, status="ok", idempotency_key=idempotency_key("inc", "s1"))
    result = outcome.to_action_result(step_index=2, destructive=False, approved_by="ana")
    assert result.idempotency_key == "inc/s1/1" and result.step_index == 2 and result.approved_by == "ana"
