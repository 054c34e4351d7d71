"""The triage chat's memory and tools: history kept as a LangGraph thread in the incident
checkpointer (`triage:<incident id>`), and the read-only tools the coordinator may use to answer."""

from __future__ import annotations

from typing import Annotated, Any, TypedDict

from langchain_core.messages import AIMessage, BaseMessage, HumanMessage
from langgraph.checkpoint.base import BaseCheckpointSaver
from langgraph.graph import START, StateGraph
from langgraph.graph.message import add_messages
from pydantic import BaseModel

from lumos.agents.llm.dependency_agent import dependency_tools
from lumos.agents.llm.log_agent import log_tools
from lumos.agents.llm.toolkit import AgentTool, tool
from lumos.tools.domain import DependencyReport, LogReport


class ChatState(TypedDict):
    """One triage conversation."""

    messages: Annotated[list[BaseMessage], add_messages]
    """Engineer and assistant turns, oldest first."""


def chat_thread_id(incident_id: str) -> str:
    """The checkpointer thread of an incident's triage chat (separate from the incident's own thread)."""
    return f"triage:{incident_id}"


class ChatHistory:
    """Append-only chat history of one incident, persisted by a LangGraph checkpointer."""

    def __init__(self, checkpointer: BaseCheckpointSaver, incident_id: str):
        builder = StateGraph(ChatState)
        builder.add_node("record", lambda state: {})
        builder.add_edge(START, "record")
        self.graph = builder.compile(checkpointer=checkpointer, name="lumos-triage-chat")
        self.config = {"configurable": {"thread_id": chat_thread_id(incident_id)}}

    def add(self, user: str, assistant: str) -> None:
        """Record one exchange."""
        self.graph.invoke({"messages": [HumanMessage(user), AIMessage(assistant)]}, self.config)

    def messages(self) -> list[BaseMessage]:
        """Every recorded message, oldest first."""
        return list(self.graph.get_state(self.config).values.get("messages", []))

    def transcript(self, limit: int = 12) -> list[str]:
        """The last `limit` messages as `engineer: ...` / `assistant: ...` lines."""
        return [f"{'engineer' if isinstance(m, HumanMessage) else 'assistant'}: {str(m.content)[:500]}" for m in self.messages()[-limit:]]


def chat_tools(values: dict[str, Any], sources: Any) -> list[AgentTool]:
    """Read-only tools over an incident's checkpointed state and data for the coordinator's chat answers."""

    @tool("incident_status")
    def status(_: BaseModel) -> object:
        """The incident's status, ranked root-cause hypotheses (top 5 with evidence), chosen runbook, planned steps
        (destructive ones need a human's approval), results so far and escalation reason."""
        return {
            "status": values.get("status"), "escalation": values.get("escalation"),
            "hypotheses": [{"service": h.service, "fault_type": str(h.fault_type), "confidence": round(h.confidence, 3),
                            "evidence": [e.summary for e in h.evidence[:3]]} for h in (values.get("hypotheses") or [])[:5]],
            "runbook": values.get("runbook"), "plan": values.get("plan") or [], "results": values.get("results") or [],
        }

    tools = [status]
    triage = values.get("triage")
    if triage is not None:
        tools += log_tools(sources.logs, triage, values.get("log_report") or LogReport())
        tools += dependency_tools(sources.topology, sources.metrics, sources.changes, triage,
                                  values.get("dependency_report") or DependencyReport())
    return tools
