"""Planning (placeholder rendering, risk), end-to-end remediation in the simulation, and the CLI."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from typer.testing import CliRunner

from lumos.agents.runbook_executor import incident_context, plan_checks, plan_steps, select_runbook
from lumos.app.cli.runbooks_cmd import runbooks_app
from lumos.tools.actions import SimulatedEnvironment, default_action_registry, idempotency_key
from lumos.tools.domain import FAULT_TYPES, Change, Evidence, FaultType, Hypothesis, Runbook, Topology
from lumos.tools.errors import InputError
from lumos.tools.runbooks import LexicalRunbookIndex, RunbookLibrary, render
from lumos.tools.runbooks.templating import TemplateError

TOPOLOGY = Topology.model_validate({
    "services": [{"name": "gateway"}, {"name": "api"}, {"name": "orders-db", "kind": "database"}, {"name": "sessions", "kind": "cache"}],
    "calls": [{"caller": "gateway", "callee": "api"}, {"caller": "api", "callee": "orders-db"}, {"caller": "api", "callee": "sessions"}],
})


@pytest.fixture(scope="module")
def library() -> RunbookLibrary:
    return RunbookLibrary.load()


def test_render_is_plain_substitution_only() -> None:
    ctx = {"service": "api", "incident_id": "inc-1"}
    assert render({"a": "{{service}}", "b": ["x {{ incident_id }}"], "n": 3}, ctx) == {"a": "api", "b": ["x inc-1"], "n": 3}
    assert render("{{ service }}", {"service": "{{ incident_id }}"}) == "{{ incident_id }}"  # never re-scanned
    with pytest.raises(TemplateError, match="no value"):
        render("{{ instance }}", ctx)
    with pytest.raises(TemplateError, match="unknown placeholder"):
        render("{{ password }}", {"password": "x"})


def test_plan_renders_params_and_resolves_risk(library: RunbookLibrary) -> None:
    runbook = library.get("scale-out-cpu-saturated-service")
    steps = plan_steps(runbook, {"service": "api", "alert_service": "gateway"}, registry=default_action_registry())
    assert [s.action for s in steps] == ["collect_diagnostics", "scale_service"]
    diag, scale = steps
    assert diag.params == {"service": "api", "kinds": ["metrics", "threads"]}
    assert (diag.destructive, diag.requires_approval) == (False, False)
    assert (scale.destructive, scale.requires_approval) == (True, True)
    assert scale.params == {"service": "api", "delta": 2} and scale.index == 1 and scale.timeout_s == 300
    assert scale.verify.params == {"service": "api"}
    assert scale.rollback.params == {"service": "api", "delta": -2}


def test_explicitly_destructive_safe_action_needs_approval() -> None:
    runbook = Runbook.model_validate({"id": "x", "title": "x", "fault_types": ["crash_loop"],
                                      "steps": [{"id": "d", "action": "notify", "destructive": True, "params": {"message": "{{ service }}"}}]})
    (step,) = plan_steps(runbook, {"service": "api"}, registry=default_action_registry())
    assert step.destructive and step.requires_approval


def test_a_code_built_runbook_cannot_downgrade_risk_either() -> None:
    runbook = Runbook.model_validate({"id": "x", "title": "x", "fault_types": ["crash_loop"],
                                      "steps": [{"id": "r", "action": "restart_service", "destructive": False, "params": {"service": "a"}}]})
    (step,) = plan_steps(runbook, {}, registry=default_action_registry())
    assert step.requires_approval


def test_plan_errors_name_runbook_step_and_field(library: RunbookLibrary) -> None:
    with pytest.raises(InputError) as exc:
        plan_steps(library.get("drain-bad-instance"), {"service": "api"}, registry=default_action_registry())
    assert "drain-bad-instance" in exc.value.message and "instance" in exc.value.message and exc.value.field == "steps.1.params"
    with pytest.raises(InputError, match="service"):
        plan_steps(library.get("rollback-bad-deploy"), {"service": "api; rm -rf /", "incident_id": "i"}, registry=default_action_registry())


def test_incident_context_and_plan_checks() -> None:
    hyp = Hypothesis(service="orders-db", fault_type="dependency_outage", confidence=0.9)
    ctx = incident_context(hyp, TOPOLOGY, alert_service="gateway", incident_id="inc-9",
                           changes=[Change(ts="2024-01-01T00:00:00Z", service="orders-db", kind="deploy", version="8.0.2", previous_version="8.0.1")])
    assert ctx["caller"] == "api" and ctx["alert_service"] == "gateway" and ctx["version"] == "8.0.2"
    assert "instance" not in ctx and "dependency" not in ctx
    assert incident_context(Hypothesis(service="api", fault_type="crash_loop", confidence=0.5), TOPOLOGY, alert_service="gateway")["caller"] == "gateway"
    (chk,) = plan_checks(RunbookLibrary.load().get("failover-primary-database").preconditions, ctx)
    assert chk.params == {"service": "orders-db"}


def _hyp(service: str, fault: FaultType, instance: str | None = None) -> Hypothesis:
    return Hypothesis(service=service, fault_type=fault, confidence=0.9, instance=instance,
                      evidence=[Evidence(source="metrics", summary=f"{fault.value} signal on {service}", service=service, weight=0.7)])


@pytest.mark.parametrize("fault", [FaultType(f) for f in FAULT_TYPES])
def test_selected_runbook_remediates_the_simulated_world(tmp_path: Path, library: RunbookLibrary, fault: FaultType) -> None:
    """Select -> plan -> preconditions -> execute every step (approved) -> verify -> post-checks, per fault type."""
    target = "orders-db" if fault is FaultType.dependency_outage else "api"
    instance = "api-1" if fault is FaultType.network_loss else None
    hyp = _hyp(target, fault, instance)
    ctx = incident_context(hyp, TOPOLOGY, alert_service="gateway", incident_id="inc-e2e")
    choice = select_runbook([hyp], index=LexicalRunbookIndex(library), library=library, topology=TOPOLOGY, context=ctx)
    assert choice is not None
    runbook = library.get(choice.runbook_id)
    registry = default_action_registry()
    with SimulatedEnvironment.open(tmp_path / "sim.sqlite", "inc-e2e") as env:
        env.seed(TOPOLOGY, [(target, fault, instance)])
        for chk in plan_checks(runbook.preconditions, ctx):
            assert env.check(chk.check, chk.params).ok, chk
        for step in plan_steps(runbook, ctx, registry=registry):
            out = env.execute(step.action, step.params, idempotency_key=idempotency_key("inc-e2e", step.step_id))
            assert out.status == "ok", out.output
            if step.verify:
                assert env.check(step.verify.check, step.verify.params).ok, (runbook.id, step.step_id)
        for chk in plan_checks(runbook.post_checks, ctx):
            assert env.check(chk.check, chk.params).ok, (runbook.id, chk)
        assert env.state().healthy, (runbook.id, env.state().faults)


def test_cli_validate_list_search(tmp_path: Path) -> None:
    runner = CliRunner()
    bad = tmp_path / "bad.yaml"
    bad.write_text("id: bad\ntitle: t\nfault_types: [crash_loop]\nsteps:\n  - id: a\n    action: sudo\n", encoding="utf-8")
    result = runner.invoke(runbooks_app, ["validate", str(tmp_path), "runbooks"])
    assert result.exit_code == 1
    assert f"{bad}:6: steps.0.action: unknown action 'sudo'" in result.stdout
    assert runner.invoke(runbooks_app, ["validate", "runbooks"]).exit_code == 0
    missing = runner.invoke(runbooks_app, ["validate", str(tmp_path / "nope")])
    assert missing.exit_code == 2 and "no such file or directory" in missing.stderr
    listed = runner.invoke(runbooks_app, ["list", "--json"])
    assert listed.exit_code == 0 and len(json.loads(listed.stdout)) >= 20
    found = runner.invoke(runbooks_app, ["search", "no space left on device", "-k", "2", "--json"])
    rows = json.loads(found.stdout)
    assert found.exit_code == 0 and rows[0]["id"] == "free-disk-space" and set(rows[0]) == {"id", "title", "fault_types", "score"}
    assert len(rows) <= 2
    wrong = runner.invoke(runbooks_app, ["search", "x", "--fault-type", "gremlins"])
    assert wrong.exit_code == 2 and "valid: cpu_saturation" in wrong.stderr
    assert "LUMOS runbook" in runner.invoke(runbooks_app, ["schema"]).stdout
