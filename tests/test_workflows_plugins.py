"""Plugins through entry points (a small distribution put on sys.path) and notifier delivery rules."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest

from lumos.app.session import Session
from lumos.tools.notify import EscalationEvent, send_notification, slack_payload
from lumos.tools.plugins import load_plugins
from tests.test_workflows_graph import Receiver, start

FIXTURE = Path(__file__).parent / "fixtures_plugin"


@pytest.fixture
def plugin_installed(tmp_path, monkeypatch):
    """Install the fixture distribution (package + dist-info with entry points) into a folder on sys.path."""
    site = tmp_path / "site"
    shutil.copytree(FIXTURE, site, ignore=shutil.ignore_patterns("README.md", "__pycache__"))
    monkeypatch.syspath_prepend(str(site))
    yield site
    import sys
    for name in [m for m in sys.modules if m.startswith("lumos_fixture_plugin")]:
        del sys.modules[name]


def test_broken_plugin_is_reported_and_skipped(plugin_installed):
    plugins = load_plugins()
    assert {"deploy_auditor", "exploding_agent"} <= set(plugins.agents)
    assert "page_team" in plugins.actions
    broken = [e for e in plugins.errors if e.name == "broken_agent"]
    assert broken and "broken on purpose" in broken[0].error and broken[0].group == "lumos.agents"


def test_plugin_agent_runs_inside_a_workflow(plugin_installed, isolated_env, tmp_path, monkeypatch):
    folder = tmp_path / "wf"
    folder.mkdir()
    (folder / "audited.yaml").write_text("""
name: audited-deploys
priority: 40
match: {labels: {team: shop}}
stages:
  - name: analysis
    agents: [log_analysis, dependency_mapping, exploding_agent]
  - name: audit
    agents: [deploy_auditor]
    after: [analysis]
approval:
  gate_actions: [page_team]
""")
    monkeypatch.setenv("LUMOS_WORKFLOW_DIRS", str(folder))
    session = Session.open(isolated_env)
    assert "page_team" in session.resources.registry
    assert any(e.name == "broken_agent" for e in session.resources.plugins.errors)
    outcome = start(session, labels={"team": "shop"})
    assert outcome.workflow["name"] == "audited-deploys" and outcome.hypotheses
    values = session.runner.values(outcome.incident_id)
    assert values["agent_findings"]["deploy_auditor"] == {"checked": "frontend", "severity": "critical", "incident": outcome.incident_id}
    assert "boom" in values["agent_findings"]["exploding_agent"]["error"]
    assert any("plugin agent exploding_agent failed" in n for n in outcome.notes)
    reports = [e.data["agent"] for e in session.resources.audit.events(outcome.incident_id) if e.kind == "agent.report"]
    assert {"deploy_auditor", "exploding_agent", "log_analyst", "dependency_mapper"} <= set(reports)
    assert outcome.waiting, "the destructive step still stops at the gate"


def test_notifier_does_not_retry_client_errors_and_refuses_other_schemes():
    event = EscalationEvent(incident_id="inc-1", reason="r", hypotheses=[{"service": "db", "fault_type": "bad_deploy", "confidence": 0.4}],
                            console_url="http://console/?incident=inc-1")
    assert "db (bad_deploy, confidence 0.40)" in str(slack_payload(event)["blocks"])
    assert not send_notification("webhook", "file:///etc/passwd", event).ok
    receiver = Receiver()
    try:
        receiver.fail = 0
        ok = send_notification("webhook", receiver.url, event, retries=2, backoff_s=0)
        assert ok.ok and ok.attempts == 1 and receiver.bodies[0]["incident_id"] == "inc-1"
    finally:
        receiver.close()
    missing = send_notification("webhook", "http://127.0.0.1:9/x", event, retries=1, backoff_s=0, timeout_s=1)
    assert not missing.ok and missing.attempts == 2 and missing.error
