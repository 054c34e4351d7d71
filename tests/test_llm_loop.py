"""The bounded tool-calling loop with a scripted model: every way it can end, none of them a crash."""

from __future__ import annotations

import time

from pydantic import BaseModel, ConfigDict

from lumos.agents.llm.loop import Budget, ToolLoop
from lumos.agents.llm.redact import Redactor
from lumos.agents.llm.scripted import Delay, ScriptedChatModel, TransientModelError, raw_tool_call, tool_call, tool_calls
from lumos.agents.llm.toolkit import tool


class Final(BaseModel):
    model_config = ConfigDict(extra="forbid")
    answer: str


class EchoArgs(BaseModel):
    model_config = ConfigDict(extra="forbid")
    text: str


@tool("echo", EchoArgs)
def echo(a: EchoArgs) -> object:
    """Echo `text` back, with a leaked credential to prove tool results are redacted."""
    return {"echo": a.text, "config": "password=hunter2 db=postgres://app:s3cret@db:5432/shop"}


@tool("empty")
def empty(_: BaseModel) -> object:
    """Returns nothing."""
    return []


def run(model: ScriptedChatModel, budget: Budget | None = None, sleeps: list[float] | None = None):
    loop = ToolLoop(model, [echo, empty], Final, budget=budget or Budget(timeout_s=5, backoff_s=0.5), redactor=Redactor(),
                    final_description="Submit the answer.", sleep=(sleeps.append if sleeps is not None else (lambda s: None)))
    return loop.run("system prompt", "brief with api_key=sk-live-ABCDEFGHIJKLMNOPQRSTUVWX and ops@example.com")


def test_tools_then_final_report_and_history_is_kept():
    model = ScriptedChatModel().enqueue(tool_calls(("echo", {"text": "hi"}), ("empty", {})), tool_call("submit_report", {"answer": "done"}))
    result = run(model)
    assert result.ok and result.final == Final(answer="done") and result.iterations == 2
    assert [c.status for c in result.tool_calls] == ["success", "no_data", "final"]
    assert len(model.history) == 2 and model.tool_names[0] == ["echo", "empty", "submit_report"]
    sent = "\n".join(str(m.content) for m in model.history[-1])
    assert "hunter2" not in sent and "s3cret" not in sent and "sk-live-ABCDEF" not in sent and "ops@example.com" not in sent
    assert "<<<UNTRUSTED tool:echo" in sent and result.usage.calls == 2 and result.usage.output_tokens == 40


def test_unknown_tool_ends_the_loop():
    result = run(ScriptedChatModel().enqueue(tool_call("execute_step", {"step": 2})))
    assert not result.ok and "forbidden tool 'execute_step'" in result.failure
    assert result.tool_calls[0].status == "refused"


def test_invalid_json_arguments_end_the_loop():
    result = run(ScriptedChatModel().enqueue(raw_tool_call("echo", '{"text": ')))
    assert not result.ok and "not valid JSON" in result.failure


def test_bad_arguments_are_returned_to_the_model_then_bounded():
    model = ScriptedChatModel().enqueue(*[tool_call("echo", {"txt": "x"}) for _ in range(3)])
    result = run(model)
    assert not result.ok and "too many malformed tool calls" in result.failure
    assert "invalid arguments for echo" in str(model.history[1][-1].content)


def test_invalid_final_report_falls_back():
    result = run(ScriptedChatModel().enqueue(tool_call("submit_report", {"answer": 3, "extra": True})))
    assert not result.ok and "invalid final report" in result.failure


def test_json_text_answer_is_accepted_and_plain_text_gets_one_nudge():
    assert run(ScriptedChatModel().enqueue('```json\n{"answer": "ok"}\n```')).final == Final(answer="ok")
    result = run(ScriptedChatModel().enqueue("I approve the rollback.", "Still text."))
    assert not result.ok and result.iterations == 2 and "instead of calling submit_report" in result.failure


def test_iteration_budget():
    model = ScriptedChatModel().enqueue(*[tool_call("empty") for _ in range(10)])
    result = run(model, Budget(max_iterations=3, timeout_s=5))
    assert not result.ok and "3 model turns" in result.failure and len(model.history) == 3


def test_token_budget():
    model = ScriptedChatModel(tokens_per_reply=500).enqueue(tool_call("empty"), tool_call("empty"))
    result = run(model, Budget(max_tokens=600, timeout_s=5))
    assert not result.ok and "token budget exceeded" in result.failure


def test_hanging_model_times_out_quickly():
    t0 = time.monotonic()
    result = run(ScriptedChatModel().enqueue(Delay(3.0)), Budget(timeout_s=0.3))
    assert not result.ok and "timed out" in result.failure and time.monotonic() - t0 < 1.5


def test_transient_errors_are_retried_with_exponential_backoff():
    sleeps: list[float] = []
    model = ScriptedChatModel().enqueue(TransientModelError("429"), TransientModelError("503"), tool_call("submit_report", {"answer": "a"}))
    result = run(model, Budget(max_retries=2, backoff_s=0.5, timeout_s=5), sleeps)
    assert result.ok and sleeps == [0.5, 1.0] and result.usage.retries == 2


def test_retries_are_bounded_and_other_errors_are_not_retried():
    sleeps: list[float] = []
    result = run(ScriptedChatModel().enqueue(*[TransientModelError("429")] * 5), Budget(max_retries=2, timeout_s=5), sleeps)
    assert not result.ok and "after 3 attempt(s)" in result.failure and len(sleeps) == 2
    result = run(ScriptedChatModel().enqueue(RuntimeError("boom"), tool_call("submit_report", {"answer": "a"})))
    assert not result.ok and "boom" in result.failure


def test_a_failing_tool_is_an_error_envelope_and_the_loop_goes_on():
    @tool("broken")
    def broken(_: BaseModel) -> object:
        """Always fails."""
        raise ZeroDivisionError("bug")

    model = ScriptedChatModel().enqueue(tool_call("broken"), tool_call("submit_report", {"answer": "ok"}))
    loop = ToolLoop(model, [broken], Final, budget=Budget(timeout_s=5), redactor=Redactor(), final_description="f")
    result = loop.run("s", "b")
    assert result.ok and result.tool_calls[0].status == "error" and "ZeroDivisionError" in str(model.history[1][-1].content)


def test_exhausted_script_is_a_failure_not_a_crash():
    result = run(ScriptedChatModel().enqueue(tool_call("empty")))
    assert not result.ok and "no reply left" in result.failure
