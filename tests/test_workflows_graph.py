"""Workflows on the incident graph: gating and approver roles, branches, timeouts, notifications."""

from __future__ import annotations

import json
import threading
import time
from http.server import BaseHTTPRequestHandler, HTTPServer
from pathlib import Path

import pytest

from lumos.app.session import Session
from lumos.evals.replay import case_sources, seed_world
from lumos.evals.cases import load_truth
from lumos.graph.gate import bind
from lumos.tools.casefiles import CaseFiles
from tests.conftest import DEMO_CASE

DBA = {"decision": "approve", "approver": "dana", "role": "dba"}


def open_session(home: Path, monkeypatch: pytest.MonkeyPatch, workflows: Path | None = None, **env: str) -> Session:
    if workflows is not None:
        monkeypatch.setenv("LUMOS_WORKFLOW_DIRS", str(workflows))
    for key, value in env.items():
        monkeypatch.setenv(f"LUMOS_{key.upper()}", value)
    return Session.open(home)


def start(session: Session, *, labels: dict[str, str] | None = None, service: str | None = None, workflow: str | None = None):
    case = CaseFiles(DEMO_CASE).load_all()
    alert = case.alert.model_copy(update={"labels": {**case.alert.labels, **(labels or {})}, **({"service": service} if service else {})})
    incident_id = f"inc-wf-{time.monotonic_ns()}"
    seed_world(session.settings.simenv_db, incident_id, case, load_truth(DEMO_CASE))
    return session.runner.start(alert, case_sources(DEMO_CASE), incident_id=incident_id, workflow=workflow)


def kinds(session: Session, outcome) -> list[str]:
    return [e.kind for e in session.resources.audit.events(outcome.incident_id)]


class Receiver:
    """A loopback HTTP receiver: answers the first `fail` requests with 500, then 200; keeps the bodies."""

    def __init__(self, fail: int = 0):
        self.bodies: list[dict] = []
        self.fail = fail
        outer = self

        class Handler(BaseHTTPRequestHandler):
            def do_POST(self):  # noqa: N802 - http.server API
                body = json.loads(self.rfile.read(int(self.headers["Content-Length"])))
                outer.bodies.append(body)
                status = 500 if len(outer.bodies) <= outer.fail else 200
                self.send_response(status)
                self.end_headers()

            def log_message(self, *args):
                pass

        self.server = HTTPServer(("127.0.0.1", 0), Handler)
        self.url = f"http://127.0.0.1:{self.server.server_address[1]}/hook"
        threading.Thread(target=self.server.serve_forever, daemon=True).start()

    def close(self) -> None:
        self.server.shutdown()
        self.server.server_close()


@pytest.fixture
def receiver():
    r = Receiver(fail=1)
    yield r
    r.close()


def test_default_workflow_is_recorded_and_keeps_todays_graph(isolated_env, monkeypatch):
    session = open_session(isolated_env, monkeypatch)
    outcome = start(session)
    assert outcome.workflow == {"name": "default", "reason": "no other workflow matched; fallback"}
    assert outcome.waiting and outcome.pending["destructive"] and outcome.pending["workflow"] == "default"
    events = session.resources.audit.events(outcome.incident_id)
    selected = [e for e in events if e.kind == "workflow.selected"]
    assert selected and selected[0].data["name"] == "default"


def test_database_workflow_gates_every_step_and_refuses_a_non_dba(isolated_env, monkeypatch):
    session = open_session(isolated_env, monkeypatch)
    outcome = start(session, service="shop-db")
    assert outcome.workflow["name"] == "critical-database-incident" and "database" in outcome.workflow["reason"]
    assert outcome.plan and all(step.requires_approval for step in outcome.plan)
    assert outcome.pending["approver_roles"] == ["dba"] and outcome.pending["deadline"] is not None
    refused = session.runner.resume(outcome.incident_id, bind(outcome.pending, {"decision": "approve", "approver": "sam", "role": "oncall"}))
    assert refused.status == "escalated" and not refused.results
    assert refused.approvals[-1].decision == "reject" and "approval refused" in refused.approvals[-1].comment
    no_role = start(session, service="shop-db")
    assert session.runner.resume(no_role.incident_id, bind(no_role.pending, {"decision": "approve", "approver": "cli-user"})).status == "escalated"


def test_database_workflow_runs_each_step_only_after_a_dba_approves(isolated_env, monkeypatch):
    session = open_session(isolated_env, monkeypatch)
    outcome = start(session, service="shop-db")
    gates = 0
    while outcome.waiting:
        gates += 1
        assert len(outcome.results) == gates - 1, "a step ran before its approval"
        outcome = session.runner.resume(outcome.incident_id, bind(outcome.pending, DBA))
    assert gates == len(outcome.plan)
    assert all(r.approved_by == "dana" for r in outcome.results if r.destructive)


def test_confident_bad_deploy_branches_to_fast_rollback(isolated_env, monkeypatch):
    session = open_session(isolated_env, monkeypatch)
    outcome = start(session, labels={"change": "deploy"})
    assert outcome.workflow["name"] == "bad-deploy-fast-rollback"
    top = outcome.hypotheses[0]
    assert str(top.fault_type) == "bad_deploy" and top.confidence >= 0.7
    assert outcome.runbook.runbook_id == "rollback-bad-deploy" and "fast-rollback" in outcome.runbook.reason
    assert "workflow.branch" in kinds(session, outcome)
    outcome = session.runner.drive(outcome, lambda request: {"decision": "approve", "approver": "olga", "role": "oncall"})
    assert outcome.status == "resolved", outcome.escalation


def test_low_confidence_branch_escalates_and_notifies(isolated_env, monkeypatch, tmp_path, receiver):
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "unsure.yaml").write_text(f"""
name: always-unsure
priority: 50
match: {{labels: {{team: shop}}}}
branches:
  - name: unsure
    when: {{max_confidence: 1.0}}
    escalate: true
    reason: needs a human
escalation:
  notify:
    - {{kind: slack, url: "{receiver.url}"}}
    - {{kind: webhook, url: "http://127.0.0.1:9/unreachable"}}
""")
    session = open_session(isolated_env, monkeypatch, folder, notify_backoff_s="0.01", notify_retries="2",
                           notify_webhook_url=receiver.url)
    outcome = start(session, labels={"team": "shop"})
    assert outcome.status == "escalated" and outcome.runbook is None and not outcome.results
    assert "needs a human" in outcome.escalation
    webhook = next(b for b in receiver.bodies if b.get("type") == "lumos.escalation")
    assert webhook["reason_kind"] == "low_confidence" and webhook["hypotheses"][0]["service"] == outcome.hypotheses[0].service
    assert outcome.incident_id in webhook["console_url"]
    slack = [b for b in receiver.bodies if "blocks" in b]
    assert slack and "escalated" in slack[0]["text"] and "Top hypotheses" in json.dumps(slack[0]["blocks"])
    assert len(receiver.bodies) == 3, "the first delivery got a 500 and was retried"
    events = session.resources.audit.events(outcome.incident_id)
    failed = [e for e in events if e.kind == "notify.failed"]
    assert len([e for e in events if e.kind == "notify.sent"]) == 2
    assert failed and failed[0].data["result"]["attempts"] == 3


def test_gate_timeout_resume_and_late_decisions_escalate(isolated_env, monkeypatch, tmp_path):
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "quick.yaml").write_text("name: quick\npriority: 50\nmatch: {labels: {team: quick}}\napproval: {timeout_s: 0.05}\n")
    session = open_session(isolated_env, monkeypatch, folder)
    outcome = start(session, labels={"team": "quick"})
    timed_out = session.runner.resume(outcome.incident_id, {"decision": "timeout"})
    assert timed_out.status == "escalated" and timed_out.approvals[-1].approver == "lumos:timeout"
    assert not any(r.destructive for r in timed_out.results)
    late = start(session, labels={"team": "quick"})
    time.sleep(0.1)
    late = session.runner.resume(late.incident_id, bind(late.pending, {"decision": "approve", "approver": "slowpoke"}))
    assert late.status == "escalated" and "timed out" in late.approvals[-1].comment
    assert not any(r.destructive for r in late.results)
    values = session.runner.values(late.incident_id)
    assert values["escalation_kind"] == "gate_timeout" and str(late.approvals[-1].step_index) in values["approval_requested_at"]


def test_security_workflow_gates_read_only_steps_too(isolated_env, monkeypatch):
    session = open_session(isolated_env, monkeypatch)
    outcome = start(session, labels={"category": "security"})
    assert outcome.workflow["name"] == "security-sensitive"
    assert all(step.requires_approval for step in outcome.plan) and not outcome.results


def test_default_workflow_escalates_a_diagnosis_below_the_action_threshold(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    model = tmp_path / "model.yaml"
    model.write_text("calibration: {action_threshold: 0.99}\n")
    session = open_session(tmp_path / "home", monkeypatch, diagnosis_model=str(model))
    outcome = start(session)
    assert outcome.status == "escalated" and outcome.runbook is None and not outcome.results
    record = next(e for e in session.resources.audit.events(outcome.incident_id) if e.kind == "workflow.branch")
    assert record.data["branch"] == "low-confidence" and record.data["workflow"] == "default"
    # The shipped threshold lets a confident diagnosis of the same incident go on to its runbook.
    confident = start(open_session(tmp_path / "home2", monkeypatch, diagnosis_model=""))
    assert confident.status == "awaiting_approval" and confident.runbook is not None
