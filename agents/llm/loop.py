"""The bounded tool-calling loop every LLM agent runs: its own tools only, a budget of model turns,
tokens and time, bounded retries with backoff, and a typed final report or a failure reason
(never an exception): the caller then falls back to the offline analyzer's report."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage, HumanMessage, SystemMessage, ToolMessage
from pydantic import BaseModel, ConfigDict, Field, ValidationError

from lumos.agents.llm.redact import Redactor
from lumos.agents.llm.scripted import TransientModelError
from lumos.agents.llm.toolkit import AgentTool, to_jsonable
from lumos.agents.llm.untrusted import wrap_untrusted

FINAL_TOOL = "submit_report"
MAX_TOOL_RESULT_CHARS = 6000
MAX_ARG_ERRORS = 2
MAX_BACKOFF_S = 30.0


class Budget(BaseModel):
    """Bounds of one loop: model turns, tokens (in + out), wall-clock seconds, retries per call."""

    model_config = ConfigDict(frozen=True)

    max_iterations: int = 8
    max_tokens: int = 60000
    timeout_s: float = 60.0
    max_retries: int = 2
    backoff_s: float = 1.0


class Usage(BaseModel):
    """Tokens and calls one loop spent."""

    calls: int = 0
    input_tokens: int = 0
    output_tokens: int = 0
    retries: int = 0

    @property
    def total_tokens(self) -> int:
        """Input plus output tokens."""
        return self.input_tokens + self.output_tokens


class ToolCallRecord(BaseModel):
    """One tool call the model made and how it ended (for the audit trail)."""

    name: str
    status: str


class LoopResult(BaseModel):
    """How a loop ended: `final` (validated report draft) when ok, else `failure` says why."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    ok: bool
    final: Any = None
    failure: str | None = None
    iterations: int = 0
    usage: Usage = Field(default_factory=Usage)
    tool_calls: list[ToolCallRecord] = Field(default_factory=list)


class LoopFailure(Exception):
    """Internal: ends the loop with a reason."""


def is_retryable(exc: BaseException) -> bool:
    """429, 5xx, timeouts and connection errors are worth retrying; anything else is not."""
    if isinstance(exc, (TransientModelError, TimeoutError, ConnectionError)):
        return True
    try:
        import openai
    except ImportError:  # pragma: no cover
        return False
    if isinstance(exc, (openai.RateLimitError, openai.InternalServerError, openai.APITimeoutError, openai.APIConnectionError)):
        return True
    return isinstance(exc, openai.APIStatusError) and (exc.status_code in (408, 409, 429) or exc.status_code >= 500)


def _call_with_timeout(fn: Callable[[], AIMessage], seconds: float) -> AIMessage:
    box: dict[str, Any] = {}

    def target() -> None:
        try:
            box["value"] = fn()
        except BaseException as exc:  # handed to the caller's thread
            box["error"] = exc

    worker = threading.Thread(target=target, daemon=True, name="lumos-model-call")
    worker.start()
    worker.join(max(seconds, 0.0))
    if worker.is_alive():
        raise LoopFailure(f"model call timed out (loop time budget exhausted after {seconds:.1f}s)")
    if "error" in box:
        raise box["error"]
    return box["value"]


class ToolLoop:
    """Runs one agent: system prompt + brief, the role's tools, and a final-report tool with `final_schema`."""

    def __init__(self, model: BaseChatModel, tools: Sequence[AgentTool], final_schema: type[BaseModel], *,
                 budget: Budget, redactor: Redactor, final_description: str,
                 sleep: Callable[[float], None] = time.sleep, clock: Callable[[], float] = time.monotonic):
        self.tools = {t.name: t for t in tools}
        self.final_schema = final_schema
        final = AgentTool(FINAL_TOOL, final_description, final_schema, lambda a: a)
        self.bound = model.bind_tools([t.schema() for t in tools] + [final.schema()])
        self.budget, self.redactor, self.sleep, self.clock = budget, redactor, sleep, clock
        self.usage = Usage()
        self.records: list[ToolCallRecord] = []

    def run(self, system: str, brief: str) -> LoopResult:
        """Run until the final report, a failure or the budget's end; never raises."""
        messages: list[BaseMessage] = [SystemMessage(self.redactor(system)), HumanMessage(self.redactor(brief))]
        deadline = self.clock() + self.budget.timeout_s
        iterations, nudged, arg_errors = 0, False, 0
        try:
            while True:
                if iterations >= self.budget.max_iterations:
                    raise LoopFailure(f"no final report within {self.budget.max_iterations} model turns")
                iterations += 1
                reply = self._invoke(messages, deadline)
                messages.append(reply)
                if reply.invalid_tool_calls:
                    bad = reply.invalid_tool_calls[0]
                    raise LoopFailure(f"malformed tool call {bad.get('name')!r}: arguments are not valid JSON")
                if not reply.tool_calls:
                    final = self._final_from_text(reply)
                    if final is not None:
                        return self._result(True, final=final, iterations=iterations)
                    if nudged:
                        raise LoopFailure("model answered with text instead of calling submit_report")
                    nudged = True
                    messages.append(HumanMessage(f"Call the `{FINAL_TOOL}` tool with your report now."))
                    continue
                for call in reply.tool_calls:
                    name = call.get("name") or ""
                    if name == FINAL_TOOL:
                        self.records.append(ToolCallRecord(name=name, status="final"))
                        return self._result(True, final=self._validate_final(call.get("args")), iterations=iterations)
                    tool = self.tools.get(name)
                    if tool is None:
                        self.records.append(ToolCallRecord(name=name[:80], status="refused"))
                        raise LoopFailure(f"model called unknown or forbidden tool {name[:80]!r}; allowed: {', '.join(sorted(self.tools))}")
                    envelope = tool.run(call.get("args") or {})
                    self.records.append(ToolCallRecord(name=name, status=envelope.status))
                    if envelope.status == "error" and (envelope.error or "").startswith("invalid arguments"):
                        arg_errors += 1
                        if arg_errors > MAX_ARG_ERRORS:
                            raise LoopFailure(f"too many malformed tool calls (last: {envelope.error})")
                    body = json.dumps(to_jsonable(envelope.model_dump(exclude_none=True)), default=str)[:MAX_TOOL_RESULT_CHARS]
                    content = wrap_untrusted(f"tool:{name}", self.redactor(body))
                    messages.append(ToolMessage(content=content, tool_call_id=call.get("id") or name))
        except LoopFailure as exc:
            return self._result(False, failure=str(exc), iterations=iterations)
        except Exception as exc:  # any model/client error ends in the offline fallback, never a crash
            return self._result(False, failure=f"model error: {type(exc).__name__}: {str(exc)[:300]}", iterations=iterations)

    def _result(self, ok: bool, *, iterations: int, final: Any = None, failure: str | None = None) -> LoopResult:
        return LoopResult(ok=ok, final=final, failure=failure, iterations=iterations, usage=self.usage, tool_calls=self.records)

    def _invoke(self, messages: list[BaseMessage], deadline: float) -> AIMessage:
        safe = [self._redacted(m) for m in messages]
        attempt = 0
        while True:
            remaining = deadline - self.clock()
            if remaining <= 0:
                raise LoopFailure(f"time budget of {self.budget.timeout_s:.1f}s exhausted")
            try:
                reply = _call_with_timeout(lambda: self.bound.invoke(safe), remaining)
                break
            except LoopFailure:
                raise
            except Exception as exc:
                if not is_retryable(exc) or attempt >= self.budget.max_retries:
                    raise LoopFailure(f"model call failed after {attempt + 1} attempt(s): {type(exc).__name__}: {str(exc)[:200]}") from None
                delay = min(self.budget.backoff_s * (2**attempt), MAX_BACKOFF_S, max(deadline - self.clock(), 0.0))
                attempt += 1
                self.usage.retries += 1
                self.sleep(delay)
        if not isinstance(reply, AIMessage):
            raise LoopFailure(f"model returned {type(reply).__name__}, not an AI message")
        meta = reply.usage_metadata or {}
        self.usage.calls += 1
        self.usage.input_tokens += int(meta.get("input_tokens", 0))
        self.usage.output_tokens += int(meta.get("output_tokens", 0))
        if self.usage.total_tokens > self.budget.max_tokens:
            raise LoopFailure(f"token budget exceeded ({self.usage.total_tokens} > {self.budget.max_tokens})")
        return reply

    def _redacted(self, message: BaseMessage) -> BaseMessage:
        if isinstance(message.content, str) and not isinstance(message, AIMessage):
            return message.model_copy(update={"content": self.redactor(message.content)})
        return message

    def _validate_final(self, args: Any) -> BaseModel:
        try:
            return self.final_schema.model_validate(args or {})
        except ValidationError as exc:
            raise LoopFailure(f"invalid final report: {exc.errors()[0].get('msg', 'invalid')} at {exc.errors()[0].get('loc')}") from None

    def _final_from_text(self, reply: AIMessage) -> BaseModel | None:
        text = reply.content if isinstance(reply.content, str) else ""
        text = text.strip().removeprefix("```json").removeprefix("```").removesuffix("```").strip()
        if not text.startswith("{"):
            return None
        try:
            return self.final_schema.model_validate_json(text)
        except ValidationError:
            raise LoopFailure("final report in the reply text is not valid JSON for the report schema") from None
