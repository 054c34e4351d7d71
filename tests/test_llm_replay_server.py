"""The real `openai` client / ChatOpenAI against a local OpenAI-compatible replay server (loopback only)."""

from __future__ import annotations

import pytest
from langchain_core.messages import HumanMessage

from lumos.agents.llm.config import build_chat_model, parse_model_spec
from lumos.agents.llm.coordinator_agent import triage_llm
from lumos.agents.llm.log_agent import analyze_logs_llm
from tests.fixtures_llm.incident import DemoIncident, fast_settings
from tests.fixtures_llm.replay_server import ReplayServer, load_recording


@pytest.fixture(scope="module")
def demo() -> DemoIncident:
    return DemoIncident.load()


def model_for(server: ReplayServer, settings, *, streaming: bool = False):
    spec = parse_model_spec(f"openai:gpt-4.1-mini@{server.base_url}")
    model = build_chat_model(spec, settings, env={"OPENAI_API_KEY": "sk-test-replay-000000000000"})
    return model.model_copy(update={"streaming": True}) if streaming else model


def test_log_agent_over_http_uses_tools_and_returns_a_log_report(demo):
    settings = fast_settings()
    with ReplayServer(load_recording("log_analyst_ok")) as server:
        outcome = analyze_logs_llm(model_for(server, settings), settings, **demo.log_kwargs())
    assert outcome.used_model, outcome.fallback_reason
    assert outcome.report.services[0].service == "inventory" and outcome.report.services[0].score == 0.93
    assert outcome.usage.calls == 3 and outcome.usage.input_tokens == 6900 and outcome.usage.output_tokens == 125
    assert outcome.cost_usd > 0
    first = server.requests[0]["body"]
    assert first["model"] == "gpt-4.1-mini"
    assert {t["function"]["name"] for t in first["tools"]} == {"offline_log_report", "query_logs", "log_template_counts", "submit_report"}
    tool_result = server.requests[2]["body"]["messages"][-1]
    assert tool_result["role"] == "tool" and tool_result["content"].startswith("<<<UNTRUSTED tool:query_logs")


def test_429_and_503_are_retried_with_backoff_then_succeed(demo):
    settings = fast_settings(llm_max_retries=2)
    with ReplayServer(load_recording("rate_limited_then_ok")) as server:
        outcome = analyze_logs_llm(model_for(server, settings), settings, **demo.log_kwargs())
    assert outcome.used_model, outcome.fallback_reason
    assert outcome.usage.retries == 2 and len(server.requests) == 3


def test_persistent_5xx_falls_back_to_the_offline_report(demo):
    settings = fast_settings(llm_max_retries=2)
    with ReplayServer(load_recording("server_errors")) as server:
        outcome = analyze_logs_llm(model_for(server, settings), settings, **demo.log_kwargs())
    assert not outcome.used_model and outcome.report is demo.log_report
    assert "500" in (outcome.fallback_reason or "") and len(server.requests) == 3


def test_text_only_answers_fall_back(demo):
    settings = fast_settings()
    with ReplayServer(load_recording("text_only")) as server:
        outcome = analyze_logs_llm(model_for(server, settings), settings, **demo.log_kwargs())
    assert not outcome.used_model and "instead of calling submit_report" in (outcome.fallback_reason or "")


def test_streamed_tool_call_is_assembled_into_a_triage_report(demo):
    settings = fast_settings()
    with ReplayServer(load_recording("coordinator_stream")) as server:
        outcome = triage_llm(model_for(server, settings, streaming=True), settings, incident_id="inc-test", alert=demo.case.alert,
                             topology=demo.case.topology, offline=demo.triage)
    assert server.requests[0]["body"]["stream"] is True
    assert outcome.used_model, outcome.fallback_reason
    assert outcome.report.focus_services[:3] == ["frontend", "checkout", "inventory"]  # the alerting service stays first
    assert outcome.report.incident_class == "service:critical"
    assert outcome.usage.input_tokens == 700


def test_streamed_text_reaches_the_client_in_chunks():
    settings = fast_settings()
    with ReplayServer(load_recording("text_stream")) as server:
        chunks = [c.content for c in model_for(server, settings).stream([HumanMessage("what broke?")])]
    assert "".join(chunks) == "The root cause is inventory." and len([c for c in chunks if c]) == 5
