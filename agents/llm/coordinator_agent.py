"""The coordinator's LLM loops: triage (returns a TriageReport) and chat answers for `lumos triage`.
Both are read-only: no tool approves, rejects or executes anything."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ConfigDict, Field

from lumos.agents.llm.agent import AgentOutcome, RoleRun, run_role
from lumos.agents.llm.drafts import TriageDecision, apply_triage
from lumos.agents.llm.toolkit import AgentTool, tool
from lumos.tools.domain import Alert, Topology, TriageReport
from lumos.tools.settings import Settings


class ChatAnswer(BaseModel):
    """The coordinator's answer to the engineer's message."""

    model_config = ConfigDict(extra="forbid")

    answer: str = Field(max_length=4000, description="A short answer citing tool results.")


def triage_tools(topology: Topology, offline: TriageReport) -> list[AgentTool]:
    """The coordinator's triage tools: the offline triage and the service catalogue."""

    @tool("offline_triage")
    def offline_triage(_: BaseModel) -> object:
        """The deterministic triage: incident and baseline windows, alerting service, focus services (the alerting
        service and its direct dependencies), severity and incident class."""
        return offline

    @tool("list_services")
    def services(_: BaseModel) -> object:
        """Every service in the topology with its kind (service, database, cache, queue, external) and the services it calls."""
        calls: dict[str, list[str]] = {}
        for e in topology.calls:
            calls.setdefault(e.caller, []).append(e.callee)
        return [{"name": s.name, "kind": s.kind, "calls": sorted(calls.get(s.name, []))} for s in topology.services]

    return [offline_triage, services]


def triage_llm(model: BaseChatModel, settings: Settings, *, incident_id: str, alert: Alert, topology: Topology,
               offline: TriageReport) -> AgentOutcome:
    """The coordinator's triage loop; a TriageReport with the model's focus and class, or `offline` on any failure."""
    services = topology.service_names()
    run = RoleRun(
        role="coordinator", tools=triage_tools(topology, offline), final_schema=TriageDecision,
        final_description="Submit the triage: focus services (most relevant first), incident class and notes.",
        offline=offline, apply=lambda d: apply_triage(d, offline, services), incident_id=incident_id, alert=alert,
        services=services, offline_summary=f"Offline focus: {', '.join(offline.focus_services)}; class {offline.incident_class}.",
        task="Triage this incident: which services should the analysis agents focus on?", extra_prompt_vars={"chat": False},
    )
    return run_role(run, model, settings)


def chat_llm(model: BaseChatModel, settings: Settings, *, incident_id: str, alert: Alert, services: Sequence[str],
             tools: list[AgentTool], question: str, history: Sequence[str] = ()) -> AgentOutcome:
    """Answer an engineer's message about an incident with read-only tools; on failure the answer says so."""
    fallback = ChatAnswer(answer="The model could not answer; slash commands still work (/help).")
    recent = "\n".join(history[-6:])
    from lumos.agents.llm.untrusted import wrap_untrusted

    task = (f"Recent conversation:\n{wrap_untrusted('chat-history', recent)}\n" if recent else "") + \
        f"The engineer asks:\n{wrap_untrusted('engineer', question)}\nAnswer it; you cannot approve or run anything."
    run = RoleRun(
        role="coordinator", tools=tools, final_schema=ChatAnswer, final_description="Submit your answer to the engineer.",
        offline=fallback, apply=lambda a: a, incident_id=incident_id, alert=alert, services=list(services), task=task,
        extra_prompt_vars={"chat": True},
    )
    return run_role(run, model, settings)
