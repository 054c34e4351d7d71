"""A scripted chat model for tests and adversarial runs: replies are enqueued (text, tool calls,
errors, delays) and every conversation it receives is kept in `history`. No network."""

from __future__ import annotations

import time
import uuid
from collections.abc import Sequence
from typing import Any

from langchain_core.callbacks import CallbackManagerForLLMRun
from langchain_core.language_models import BaseChatModel
from langchain_core.messages import AIMessage, BaseMessage
from langchain_core.outputs import ChatGeneration, ChatResult
from langchain_core.utils.function_calling import convert_to_openai_tool
from pydantic import Field


class ScriptExhausted(RuntimeError):
    """The scripted model was called more times than replies were enqueued."""


class TransientModelError(RuntimeError):
    """A retryable failure (what a 429 or 5xx looks like to the loop)."""


class Delay:
    """A scripted reply that sleeps `seconds` before answering with `then` (to test timeouts)."""

    def __init__(self, seconds: float, then: AIMessage | None = None):
        self.seconds = seconds
        self.then = then or AIMessage(content="(late reply)")


def tool_call(name: str, args: dict[str, Any] | None = None, *, content: str = "", call_id: str | None = None) -> AIMessage:
    """An AI reply that calls one tool."""
    return AIMessage(content=content, tool_calls=[{"name": name, "args": args or {}, "id": call_id or f"call_{uuid.uuid4().hex[:8]}"}])


def tool_calls(*calls: tuple[str, dict[str, Any]]) -> AIMessage:
    """An AI reply that calls several tools at once."""
    return AIMessage(content="", tool_calls=[{"name": n, "args": a, "id": f"call_{uuid.uuid4().hex[:8]}"} for n, a in calls])


def raw_tool_call(name: str, raw_args: str) -> AIMessage:
    """An AI reply whose tool-call arguments are not valid JSON (LangChain reports it as an invalid tool call)."""
    return AIMessage(content="", invalid_tool_calls=[{"name": name, "args": raw_args, "id": "call_bad", "error": "invalid JSON", "type": "invalid_tool_call"}])


class ScriptedChatModel(BaseChatModel):
    """Answers each call with the next enqueued reply; records the messages and tools of every call."""

    replies: list[Any] = Field(default_factory=list)
    history: list[list[BaseMessage]] = Field(default_factory=list)
    tool_names: list[list[str]] = Field(default_factory=list)
    tokens_per_reply: int = 20

    @property
    def _llm_type(self) -> str:
        return "scripted"

    def enqueue(self, *replies: AIMessage | str | Exception | Delay) -> "ScriptedChatModel":
        """Add replies (a str becomes a plain text reply); returns self for chaining."""
        self.replies.extend(AIMessage(content=r) if isinstance(r, str) else r for r in replies)
        return self

    def bind_tools(self, tools: Sequence[Any], **kwargs: Any) -> Any:
        """Bind tools like a real chat model (OpenAI tool format); the names are recorded per call."""
        return self.bind(tools=[convert_to_openai_tool(t) for t in tools], **kwargs)

    def _generate(
        self, messages: list[BaseMessage], stop: list[str] | None = None,
        run_manager: CallbackManagerForLLMRun | None = None, **kwargs: Any,
    ) -> ChatResult:
        self.history.append(list(messages))
        self.tool_names.append([t["function"]["name"] for t in kwargs.get("tools", [])])
        if not self.replies:
            raise ScriptExhausted(f"scripted model has no reply left for call {len(self.history)}")
        reply = self.replies.pop(0)
        if isinstance(reply, Delay):
            time.sleep(reply.seconds)
            reply = reply.then
        if isinstance(reply, Exception):
            raise reply
        prompt_tokens = sum(len(str(m.content)) for m in messages) // 4 + 1
        message = reply.model_copy(update={"usage_metadata": reply.usage_metadata or {
            "input_tokens": prompt_tokens, "output_tokens": self.tokens_per_reply, "total_tokens": prompt_tokens + self.tokens_per_reply,
        }})
        return ChatResult(generations=[ChatGeneration(message=message)])
