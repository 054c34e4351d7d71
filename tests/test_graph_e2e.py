"""The incident graph end to end on the bundled demo case (offline, simulated environment)."""

from __future__ import annotations

import sqlite3

import pytest

from lumos.app.session import Session
from lumos.evals.replay import start_case_incident
from lumos.graph.gate import bind
from tests.conftest import DEMO_CASE


def approve_all(request):
    return {"decision": "approve", "approver": "test:alice", "comment": "ok"}


@pytest.fixture
def session(isolated_env):
    return Session.open(isolated_env)


def test_demo_resolves_with_approval_and_audit_verifies(session):
    case, outcome = start_case_incident(session.runner, session.settings.simenv_db, DEMO_CASE)
    assert outcome.waiting, "the demo's remediation has a destructive step that must stop at the gate"
    assert outcome.pending["destructive"] is True
    assert not any(r.destructive for r in outcome.results), "nothing destructive ran before the approval"
    outcome = session.runner.drive(outcome, approve_all)
    assert outcome.status == "resolved", outcome.escalation
    truth_service = "inventory"
    assert outcome.hypotheses[0].service.startswith(truth_service) or truth_service in outcome.hypotheses[0].service
    destructive = [r for r in outcome.results if r.destructive]
    assert destructive and all(r.approved_by == "test:alice" for r in destructive)
    trail = session.resources.audit
    kinds = [e.kind for e in trail.events(outcome.incident_id)]
    for expected in ("incident.opened", "diagnosis.ranked", "approval.requested", "approval.decided", "action.executed", "incident.resolved"):
        assert expected in kinds
    assert trail.verify(outcome.incident_id).ok


def test_rejected_step_never_executes_and_escalates(session):
    _, outcome = start_case_incident(session.runner, session.settings.simenv_db, DEMO_CASE)
    pending = outcome.pending
    outcome = session.runner.resume(outcome.incident_id, bind(pending, {"decision": "reject", "approver": "test:bob", "comment": "not now"}))
    assert outcome.approvals[-1].approver == "test:bob"
    assert outcome.status == "escalated"
    assert "rejected" in (outcome.escalation or "")
    assert not [r for r in outcome.results if r.step_index == pending["step_index"]]
    assert not any(r.destructive for r in outcome.results)
    events = session.resources.audit.events(outcome.incident_id)
    assert "incident.escalated" in [e.kind for e in events]
    executed_steps = [e.data["result"]["step_index"] for e in events if e.kind == "action.executed"]
    assert pending["step_index"] not in executed_steps


def test_malformed_approval_fails_closed(session):
    _, outcome = start_case_incident(session.runner, session.settings.simenv_db, DEMO_CASE)
    outcome = session.runner.resume(outcome.incident_id, {"decision": "yes please", "approver": ""})
    assert outcome.status == "escalated"
    assert outcome.approvals[-1].decision == "reject"
    assert not any(r.destructive for r in outcome.results)


def test_tampered_audit_record_fails_verify(session):
    _, outcome = start_case_incident(session.runner, session.settings.simenv_db, DEMO_CASE)
    trail = session.resources.audit
    assert trail.verify(outcome.incident_id).ok
    conn = sqlite3.connect(session.settings.audit_db)
    conn.execute("UPDATE audit_events SET actor='mallory' WHERE incident_id=? AND seq=2", (outcome.incident_id,))
    conn.commit()
    conn.close()
    assert not trail.verify(outcome.incident_id).ok
