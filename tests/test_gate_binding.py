"""Decisions are bound to one gate; destructive actions (and rollbacks) run only with a matching approval record.

Reproduces review findings 2 (an approval for step 0 ran step 1), 3 (a rollback ran a target nobody approved)
and 4 (an approval forged by writing state ran a destructive step), and shows each refused.
"""

from __future__ import annotations

import time
from datetime import datetime, timezone

import pytest
from langgraph.types import Command

from lumos.app.session import Session
from lumos.evals.cases import load_truth
from lumos.evals.replay import case_sources, seed_world
from lumos.graph.gate import GateMismatch, GateRequest, bind
from lumos.tools.actions.simenv import SimulatedEnvironment
from lumos.tools.casefiles import CaseFiles
from lumos.tools.domain import Approval
from tests.conftest import DEMO_CASE

DBA = {"decision": "approve", "approver": "dana", "role": "dba"}


@pytest.fixture
def session(isolated_env):
    return Session.open(isolated_env)


def start(session: Session, *, service: str | None = None, curable: bool = True):
    """The demo case as an incident (on `service`, e.g. shop-db for the every-step-gated database workflow).

    `curable=False` seeds a fault the planned rollback does not cure, so the approved step fails verification.
    """
    case = CaseFiles(DEMO_CASE).load_all()
    alert = case.alert.model_copy(update={"service": service}) if service else case.alert
    incident_id = f"inc-gate-{time.monotonic_ns()}"
    truth = load_truth(DEMO_CASE)
    if curable:
        seed_world(session.settings.simenv_db, incident_id, case, truth)
    else:
        versions = {c.service: (c.version, c.previous_version) for c in case.changes if c.kind == "deploy" and c.version}
        with SimulatedEnvironment.open(session.settings.simenv_db, incident_id) as env:
            env.seed(case.topology, faults=[(truth.root_cause.service, "memory_pressure")], versions=versions)
    return session.runner.start(alert, case_sources(DEMO_CASE), incident_id=incident_id)


def config(incident_id: str) -> dict:
    return {"configurable": {"thread_id": incident_id}}


def kinds(session: Session, incident_id: str) -> list[str]:
    return [e.kind for e in session.resources.audit.events(incident_id)]


def executed(session: Session, incident_id: str) -> list[str]:
    world = SimulatedEnvironment.open(session.settings.simenv_db, incident_id)
    return [h.action for h in world.history()]


def test_every_request_carries_its_binding(session):
    outcome = start(session)
    request = GateRequest.model_validate(outcome.pending)
    step = outcome.plan[request.step_index]
    assert (request.step_index, request.action, request.params) == (step.index, step.action, step.params)
    assert request.rollback == step.rollback.model_dump(mode="json"), "the approval covers the rollback too"
    assert outcome.pending["interrupt_id"] and request.gate_id.startswith("g-")
    recorded = [e for e in session.resources.audit.events(outcome.incident_id) if e.kind == "approval.requested"]
    assert recorded[0].data["gate_id"] == request.gate_id and recorded[0].data["params_hash"] == request.params_hash


def test_an_approval_for_step_0_never_runs_step_1(session):
    """Finding 2: the incident moved on to step 1 (another actor); a decision bound to step 0 runs nothing."""
    first = start(session, service="shop-db")
    assert first.workflow["name"] == "critical-database-incident" and len(first.plan) >= 2
    second = session.runner.resume(first.incident_id, bind(first.pending, DBA))
    assert second.waiting and second.pending["step_index"] == first.pending["step_index"] + 1
    ran = executed(session, first.incident_id)

    with pytest.raises(GateMismatch, match="nothing was run"):
        session.runner.resume(first.incident_id, bind(first.pending, DBA))
    # The same stale decision sent straight to the graph (as `langgraph dev` would) is refused by the gate itself.
    session.runner.graph.invoke(Command(resume=bind(first.pending, DBA)), config(first.incident_id))
    after = session.runner.outcome(first.incident_id)
    assert after.waiting and after.pending["gate_id"] == second.pending["gate_id"]
    assert executed(session, first.incident_id) == ran, "no action ran for the stale decision"
    refused = [e for e in session.resources.audit.events(first.incident_id) if e.kind == "approval.refused"]
    assert refused and refused[0].data["gate"]["gate_id"] == second.pending["gate_id"] and "gate_id" in refused[0].data["reason"]

    done = session.runner.resume(first.incident_id, bind(after.pending, DBA))
    assert done.status in ("resolved", "escalated") or done.waiting
    assert len(executed(session, first.incident_id)) == len(ran) + 1


def test_resume_payload_cannot_change_params(session):
    """Finding 3 (first half): approving with other params is a malformed decision, i.e. a rejection."""
    outcome = start(session)
    hostile = {**bind(outcome.pending, {"decision": "approve", "approver": "mallory"}), "params": {"service": "shop-db"}}
    outcome = session.runner.resume(outcome.incident_id, hostile)
    assert outcome.status == "escalated" and outcome.approvals[-1].decision == "reject"
    assert "params" in outcome.approvals[-1].comment
    assert not [a for a in executed(session, outcome.incident_id) if a == "rollback_deploy"]


def test_an_approval_written_into_state_runs_nothing(session):
    """Finding 4: update_state with a made-up Approval, then continue: no approval.decided record, so no action."""
    outcome = start(session)
    pending = GateRequest.model_validate(outcome.pending)
    forged = Approval(step_index=pending.step_index, decision="approve", approver="made-up", gate_id=pending.gate_id,
                      params_hash=pending.params_hash, decided_at=datetime.now(timezone.utc))
    graph = session.runner.graph
    graph.update_state(config(outcome.incident_id), {"approvals": [forged]}, as_node="approval_gate")
    for _ in graph.stream(None, config(outcome.incident_id)):
        pass
    after = session.runner.outcome(outcome.incident_id)
    assert after.status == "escalated" and not any(r.destructive for r in after.results)
    assert "rollback_deploy" not in executed(session, outcome.incident_id)
    assert "action.blocked" in kinds(session, outcome.incident_id)
    assert "no recorded approval" in (after.escalation or "")


def test_rollback_runs_only_what_was_approved(session):
    """Finding 3 (second half): a failed approved step rolls back with the approved rollback, recorded with its approver."""
    outcome = start(session, curable=False)
    request = GateRequest.model_validate(outcome.pending)
    outcome = session.runner.resume(outcome.incident_id, bind(request, {"decision": "approve", "approver": "alice"}))
    assert outcome.status == "escalated" and "failed verification" in (outcome.escalation or "")
    events = session.resources.audit.events(outcome.incident_id)
    rollback = [e.data["result"] for e in events if e.kind == "rollback.executed"]
    assert rollback and rollback[0]["params"] == request.rollback["params"] and rollback[0]["approved_by"] == "alice"


def test_a_rollback_without_an_approval_record_is_blocked(session):
    """The rollback node checks the audit trail, not state: a forged approval rolls nothing back."""
    from lumos.graph.remediation import RemediationNodes

    outcome = start(session, curable=False)
    values = session.runner.values(outcome.incident_id)
    step = values["plan"][outcome.pending["step_index"]]
    forged = Approval(step_index=step.index, decision="approve", approver="made-up", decided_at=datetime.now(timezone.utc))
    state = {**values, "step_index": step.index, "approvals": [forged]}
    update = RemediationNodes(session.resources).rollback(state)
    assert "no recorded approval" in update["escalation"] and "results" not in update
    assert "rollback_deploy" not in executed(session, outcome.incident_id)


def test_an_ungated_step_with_a_destructive_rollback_stops_at_its_own_gate(session):
    from lumos.graph.remediation import RemediationNodes

    outcome = start(session)
    values = session.runner.values(outcome.incident_id)
    ungated = values["plan"][outcome.pending["step_index"]].model_copy(update={"destructive": False, "requires_approval": False})
    state = {**values, "plan": [ungated], "step_index": 0, "escalation": "step 0 failed verification"}
    nodes = RemediationNodes(session.resources)
    assert nodes.after_verify(state) == "rollback_gate"
    request = nodes.gates.request(state, ungated, "rollback")
    assert request.kind == "rollback" and request.action == ungated.rollback.action and request.gate_id != outcome.pending["gate_id"]


def test_a_gate_opened_before_requests_carried_a_binding_can_still_be_decided(session, monkeypatch):
    """An incident paused by an older LUMOS: its request has no gate id; the runner derives the one the gate will use."""
    import lumos.graph.gate_nodes as gate_nodes

    real = gate_nodes.interrupt

    def old_style(value):
        return real({k: v for k, v in value.items() if k not in ("gate_id", "params_hash", "kind", "rollback")})

    monkeypatch.setattr(gate_nodes, "interrupt", old_style)
    outcome = start(session)
    monkeypatch.undo()
    raw = session.runner.graph.get_state(config(outcome.incident_id)).interrupts[0].value
    assert "gate_id" not in raw and outcome.pending["gate_id"].startswith("g-")
    done = session.runner.resume(outcome.incident_id, bind(outcome.pending, {"decision": "approve", "approver": "alice"}))
    assert done.status == "resolved" and any(r.destructive and r.approved_by == "alice" for r in done.results)
