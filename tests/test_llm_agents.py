"""Each agent's LLM loop with a scripted model on the demo incident: the model's report when it is
valid, the offline report (with the reason) when it is not; the runbook agent can never execute."""

from __future__ import annotations

import pytest

from lumos.agents.correlator import correlate
from lumos.agents.llm.coordinator_agent import chat_llm, triage_llm
from lumos.agents.llm.dependency_agent import map_dependencies_llm
from lumos.agents.llm.log_agent import analyze_logs_llm
from lumos.agents.llm.runbook_agent import select_runbook_llm
from lumos.agents.llm.scripted import ScriptedChatModel, tool_call
from lumos.agents.runbook_executor import incident_context, select_runbook
from lumos.tools.actions.registry import default_registry
from lumos.tools.domain import DependencyReport, LogReport, RunbookChoice, TriageReport
from lumos.tools.runbooks.library import RunbookLibrary
from lumos.tools.runbooks.search import LexicalRunbookIndex
from tests.fixtures_llm.incident import DemoIncident, fast_settings


@pytest.fixture(scope="module")
def demo() -> DemoIncident:
    return DemoIncident.load()


def test_coordinator_triage_uses_model_focus_and_keeps_windows(demo):
    model = ScriptedChatModel().enqueue(tool_call("offline_triage"), tool_call("list_services"),
                                        tool_call("submit_report", {"focus_services": ["inventory", "nope"], "notes": ["deploy"]}))
    out = triage_llm(model, fast_settings(), incident_id="i", alert=demo.case.alert, topology=demo.case.topology, offline=demo.triage)
    assert out.used_model and isinstance(out.report, TriageReport)
    assert out.report.focus_services == ["frontend", "inventory"] and out.report.incident_window == demo.triage.incident_window
    assert set(out.prompt_hashes) == {"coordinator.j2", "brief.j2"}


def test_log_agent_rescores_known_services_and_drops_unknown_ones(demo):
    model = ScriptedChatModel().enqueue(
        tool_call("log_template_counts", {"service": "inventory", "window": "baseline"}),
        tool_call("submit_report", {"services": [{"service": "ghost", "score": 1.0}, {"service": "inventory", "score": 0.8,
                                                                                      "fault_type": "bad_deploy", "reason": "new exception"}]}))
    out = analyze_logs_llm(model, fast_settings(), **demo.log_kwargs())
    assert out.used_model and isinstance(out.report, LogReport)
    top = out.report.services[0]
    assert top.service == "inventory" and top.score == 0.8 and top.evidence[-1].source == "model"
    assert any("unknown service 'ghost'" in n for n in out.report.notes)


def test_log_agent_falls_back_when_only_unknown_services_are_named(demo):
    model = ScriptedChatModel().enqueue(tool_call("submit_report", {"services": [{"service": "attacker", "score": 1.0}]}))
    out = analyze_logs_llm(model, fast_settings(), **demo.log_kwargs())
    assert not out.used_model and out.report is demo.log_report and "rejected" in out.fallback_reason


def test_dependency_agent_ranking(demo):
    model = ScriptedChatModel().enqueue(
        tool_call("callees", {"service": "checkout"}), tool_call("metric_shifts", {"service": "inventory"}),
        tool_call("recent_changes"), tool_call("call_paths", {"source": "frontend", "target": "inventory"}),
        tool_call("submit_report", {"services": [{"service": "inventory", "score": 0.9, "fault_type": "bad_deploy", "reason": "deploy"}]}))
    out = map_dependencies_llm(model, fast_settings(), incident_id="i", alert=demo.case.alert, topology=demo.case.topology,
                               metrics=demo.case.metrics, changes=demo.case.changes, triage=demo.triage, offline=demo.dependency_report)
    assert out.used_model and isinstance(out.report, DependencyReport)
    assert out.report.ranking[0].service == "inventory" and out.report.ranking[0].confidence == 0.9
    assert len(out.report.ranking) >= len(demo.dependency_report.ranking)
    assert all(c["status"] in ("success", "no_data", "final") for c in out.tool_calls)


@pytest.fixture(scope="module")
def runbook_setup(demo):
    library = RunbookLibrary.load([])
    index = LexicalRunbookIndex(library)
    hyps = correlate(triage=demo.triage, log_report=demo.log_report, dependency_report=demo.dependency_report, topology=demo.case.topology)
    ctx = incident_context(hyps[0], demo.case.topology, alert_service="frontend", incident_id="i", changes=demo.case.changes)
    offline = select_runbook(hyps, index=index, library=library, topology=demo.case.topology, context=ctx)
    return dict(hypotheses=hyps, library=library, index=index, registry=default_registry(), context=ctx, offline=offline)


def run_runbook_agent(demo, setup, *replies):
    model = ScriptedChatModel().enqueue(*replies)
    return model, select_runbook_llm(model, fast_settings(), incident_id="i", alert=demo.case.alert, **setup)


def test_runbook_agent_searches_reads_previews_and_chooses(demo, runbook_setup):
    model, out = run_runbook_agent(demo, runbook_setup, tool_call("search_runbooks", {"text": "bad deploy", "fault_type": "bad_deploy"}),
                                   tool_call("read_runbook", {"runbook_id": "rollback-bad-deploy"}),
                                   tool_call("preview_plan", {"runbook_id": "rollback-bad-deploy"}),
                                   tool_call("submit_report", {"runbook_id": "rollback-bad-deploy", "reason": "deploy right before"}))
    assert out.used_model and isinstance(out.report, RunbookChoice) and out.report.runbook_id == "rollback-bad-deploy"
    assert not any("execute" in name or "approve" in name for name in model.tool_names[0])
    assert '"destructive": true' in str(model.history[-1][-1].content)


@pytest.mark.parametrize("reply,reason", [
    (tool_call("execute_step", {"step_index": 2}), "forbidden tool"),
    (tool_call("submit_report", {"runbook_id": "scale-out-cpu-saturated-service"}), "does not cover"),
    (tool_call("submit_report", {"runbook_id": "rm-rf-everything"}), "unknown runbook"),
])
def test_runbook_agent_falls_back_on_forbidden_or_unfit_choices(demo, runbook_setup, reply, reason):
    _, out = run_runbook_agent(demo, runbook_setup, reply)
    assert not out.used_model and out.report == runbook_setup["offline"] and reason in out.fallback_reason


def test_chat_answer_uses_read_only_tools(demo):
    from lumos.agents.llm.log_agent import log_tools

    model = ScriptedChatModel().enqueue(tool_call("query_logs", {"service": "inventory", "limit": 2}),
                                        tool_call("submit_report", {"answer": "inventory throws since 3.19.0"}))
    out = chat_llm(model, fast_settings(), incident_id="i", alert=demo.case.alert, services=["inventory"],
                   tools=log_tools(demo.case.logs, demo.triage, demo.log_report), question="why? password=hunter2")
    assert out.used_model and out.report.answer.startswith("inventory")
    assert "hunter2" not in str(model.history[0][1].content)
