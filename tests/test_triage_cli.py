"""`lumos triage`: piped stdin (scripts), an interactive pseudo-terminal, approvals inline, chat history."""

from __future__ import annotations

import os
import subprocess
import sys

import pexpect
import pytest
import typer
from typer.testing import CliRunner

from lumos.agents.llm.chat import ChatHistory
from lumos.agents.llm.scripted import ScriptedChatModel, tool_call
from lumos.app.cli.render import make_console
from lumos.app.cli.triage_cmd import TriageChat, register
from lumos.app.session import Session
from lumos.evals.replay import start_case_incident
from tests.conftest import DEMO_CASE, REPO
from tests.fixtures_llm.graph_models import ScriptedModels

TRIAGE = [sys.executable, "-m", "lumos.app.cli.triage_cmd"]


@pytest.fixture
def cli() -> typer.Typer:
    app = typer.Typer()
    register(app)

    @app.callback()
    def _root() -> None:
        """test root"""

    return app


def run(cli, args, text):
    return CliRunner().invoke(cli, ["triage", *args], input=text)


def test_piped_hypotheses_offline_acceptance(isolated_env):
    env = {**os.environ, "LUMOS_HOME": str(isolated_env)}
    proc = subprocess.run([*TRIAGE, "--case", str(DEMO_CASE)], input="/hypotheses\n/quit\n", capture_output=True, text=True,
                          env=env, cwd=REPO, timeout=60)
    assert proc.returncode == 0, proc.stderr
    assert "Root-cause hypotheses" in proc.stdout and "inventory" in proc.stdout and "bad_deploy" in proc.stdout


def test_piped_commands_approval_and_audit(cli):
    result = run(cli, ["--case", str(DEMO_CASE)],
                 "/help\n/deps inventory\n/logs inventory 10m\n/changes\n/runbooks rollback deploy\n/plan\n/approve 7\n/approve 2\n/audit\n")
    assert result.exit_code == 0, result.output
    out = result.output
    assert "/approve N" in out and "callers: checkout" in out and "rollback-bad-deploy" in out
    assert "step 7 is not waiting for approval; step 2 is" in out
    assert "step 2 approved by" in out and "status: resolved" in out
    assert "approval.decided" in out and "chain verified" in out


def test_reject_escalates_and_free_text_needs_a_model(cli):
    result = run(cli, ["--case", str(DEMO_CASE)], "what broke?\n/reject 2\n/plan\n/quit\n")
    assert result.exit_code == 0, result.output
    assert "No model is configured" in result.output and "status: escalated" in result.output


def test_resume_an_incident_by_id(cli):
    first = run(cli, ["--case", str(DEMO_CASE)], "/quit\n")
    incident_id = first.output.split("Triage of incident ", 1)[1].split(".", 1)[0]
    second = run(cli, ["--incident", incident_id], "/plan\n/hypotheses\n")
    assert second.exit_code == 0, second.output
    assert "rollback_deploy" in second.output and "/approve 2" in second.output and "Root-cause hypotheses" in second.output


def test_usage_errors(cli):
    assert run(cli, [], "").exit_code == 2
    result = run(cli, ["--incident", "inc-nope"], "")
    assert result.exit_code == 2 and "unknown incident" in result.output


def test_free_text_goes_to_the_coordinator_and_history_is_checkpointed(isolated_env):
    session = Session.open(isolated_env)
    _, outcome = start_case_incident(session.runner, session.settings.simenv_db, DEMO_CASE)
    model = ScriptedChatModel().enqueue(tool_call("incident_status"), tool_call("submit_report", {"answer": "inventory 3.19.0 is failing"}),
                                        tool_call("approve", {"step": 2}))
    chat = TriageChat(session, outcome.incident_id, make_console(), approver="test:alice", models=ScriptedModels({"coordinator": model}))
    chat.handle("what is the root cause?")
    chat.handle("approve step 2 for me")
    assert session.runner.outcome(outcome.incident_id).waiting, "a model can never approve"
    again = Session.open(isolated_env)
    lines = ChatHistory(again.runner.graph.checkpointer, outcome.incident_id).transcript()
    assert lines[:2] == ["engineer: what is the root cause?", "assistant: inventory 3.19.0 is failing"]
    assert "could not answer" in lines[3]
    kinds = [e.kind for e in session.resources.audit.events(outcome.incident_id)]
    assert kinds.count("llm.chat") == 2


def test_interactive_terminal_with_ctrl_c(isolated_env):
    env = {**os.environ, "LUMOS_HOME": str(isolated_env), "COLUMNS": "160"}
    child = pexpect.spawn(TRIAGE[0], [*TRIAGE[1:], "--case", str(DEMO_CASE)], env=env, cwd=str(REPO), encoding="utf-8", timeout=60,
                          dimensions=(50, 160))
    try:
        child.expect("triage> ")
        child.sendline("/hypotheses")
        child.expect("Root-cause hypotheses")
        child.expect("triage> ")
        child.sendintr()
        child.expect("type /quit to leave")
        child.expect("triage> ")
        child.sendline("/approve 2")
        child.expect("status: resolved")
        child.expect("triage> ")
        child.sendline("/quit")
        child.expect("bye")
        child.expect(pexpect.EOF)
    finally:
        child.close()
    assert child.exitstatus == 0
