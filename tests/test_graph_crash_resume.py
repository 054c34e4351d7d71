"""A crash between executing a step and recording it: the resumed run must not execute it twice."""

from __future__ import annotations

import pytest

from lumos.app.session import Session
from lumos.evals.replay import start_case_incident
from lumos.graph.audit import AuditTrail
from lumos.graph.gate import bind
from lumos.tools.actions.simenv import SimulatedEnvironment
from tests.conftest import DEMO_CASE


class Crash(RuntimeError):
    pass


def test_resume_after_crash_replays_the_recorded_action(isolated_env, monkeypatch):
    session = Session.open(isolated_env)
    _, outcome = start_case_incident(session.runner, session.settings.simenv_db, DEMO_CASE)
    assert outcome.waiting
    incident = outcome.incident_id
    original_append = AuditTrail.append
    crashed = {"done": False}

    def crash_once(self, incident_id, kind, data=None, **kwargs):
        if kind == "action.executed" and not crashed["done"]:
            crashed["done"] = True
            raise Crash("process died after the action ran, before it was recorded")
        return original_append(self, incident_id, kind, data, **kwargs)

    monkeypatch.setattr(AuditTrail, "append", crash_once)
    with pytest.raises(Crash):
        session.runner.resume(incident, bind(outcome.pending, {"decision": "approve", "approver": "test:alice"}))
    world = SimulatedEnvironment.open(session.settings.simenv_db, incident)
    executed_before = [h for h in world.history() if h.action not in ("collect_diagnostics", "notify")]
    assert len(executed_before) == 1, "the destructive action ran once before the crash"

    # A new process picks the thread up from its last checkpoint and re-runs the interrupted node.
    fresh = Session.open(isolated_env)
    fresh.runner.graph.invoke(None, {"configurable": {"thread_id": incident}})
    outcome = fresh.runner.outcome(incident)
    assert outcome.status == "resolved", outcome.escalation
    world = SimulatedEnvironment.open(fresh.settings.simenv_db, incident)
    executed_after = [h for h in world.history() if h.action not in ("collect_diagnostics", "notify")]
    assert len(executed_after) == 1, "the resumed run must not execute the action again"
    destructive = [r for r in outcome.results if r.destructive]
    assert len(destructive) == 1 and destructive[0].replayed is True
    assert fresh.resources.audit.verify(incident).ok
