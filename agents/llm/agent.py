"""Run one role's LLM loop around its offline report: render the prompts, run the bounded loop, turn
the model's draft into the role's report type, and fall back to the offline report on any failure."""

from __future__ import annotations

from collections.abc import Callable, Sequence
from typing import Any

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ConfigDict, Field

from lumos.agents.llm.config import Role, model_label
from lumos.agents.llm.loop import FINAL_TOOL, Budget, LoopResult, ToolLoop, Usage
from lumos.agents.llm.pricing import cost_usd
from lumos.agents.llm.prompts import PromptRenderer
from lumos.agents.llm.redact import Redactor
from lumos.agents.llm.toolkit import AgentTool
from lumos.agents.llm.untrusted import wrap_untrusted
from lumos.tools.domain import Alert
from lumos.tools.errors import LumosError
from lumos.tools.settings import Settings



class AgentOutcome(BaseModel):
    """The report a role produced, whether the model's or the offline fallback, and what it cost."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    role: str
    model: str
    report: Any
    used_model: bool
    fallback_reason: str | None = None
    prompt_hashes: dict[str, str] = Field(default_factory=dict)
    usage: Usage = Field(default_factory=Usage)
    cost_usd: float = 0.0
    iterations: int = 0
    tool_calls: list[dict[str, str]] = Field(default_factory=list)

    def audit_data(self) -> dict[str, Any]:
        """The `llm.loop` audit record: model, prompt hashes, usage, cost, tool calls and any fallback."""
        return {
            "role": self.role, "model": self.model, "outcome": "model_report" if self.used_model else "offline_fallback",
            "fallback_reason": self.fallback_reason, "prompt_sha256": self.prompt_hashes, "iterations": self.iterations,
            "usage": {**self.usage.model_dump(), "cost_usd": self.cost_usd}, "tool_calls": self.tool_calls,
        }

    def usage_update(self) -> dict[str, dict[str, float]]:
        """The state update for per-incident token and cost accounting (summed by the state reducer)."""
        return {self.role: {"calls": self.usage.calls, "input_tokens": self.usage.input_tokens,
                            "output_tokens": self.usage.output_tokens, "cost_usd": self.cost_usd, "fallbacks": 0 if self.used_model else 1}}


def budget_from_settings(settings: Settings) -> Budget:
    """The loop bounds configured in settings."""
    return Budget(max_iterations=settings.llm_max_iterations, max_tokens=settings.llm_max_tokens, timeout_s=settings.llm_timeout_s,
                  max_retries=settings.llm_max_retries, backoff_s=settings.llm_backoff_s)


def redactor_from_settings(settings: Settings) -> Redactor:
    """The redactor configured in settings (secrets always; e-mails and IPs as configured)."""
    return Redactor(emails=settings.llm_redact_emails, ips=settings.llm_redact_ips)


def alert_block(alert: Alert) -> str:
    """The alert as a delimited untrusted data block."""
    body = "\n".join(f"{k}: {v}" for k, v in {
        "name": alert.name, "service": alert.service, "severity": alert.severity, "starts_at": alert.starts_at.isoformat(),
        "summary": alert.summary, "description": alert.description, "labels": dict(alert.labels or {}),
    }.items() if v)
    return wrap_untrusted("alert", body)


class RoleRun(BaseModel):
    """Everything one role's loop needs besides the model."""

    model_config = ConfigDict(arbitrary_types_allowed=True)

    role: Role
    tools: list[AgentTool]
    final_schema: type[BaseModel]
    final_description: str
    offline: Any
    apply: Callable[[Any], Any]
    """draft -> the role's report type; raise LumosError/ValueError to reject the draft (offline fallback)."""
    incident_id: str
    alert: Alert
    services: Sequence[str] = ()
    offline_summary: str = ""
    task: str
    extra_prompt_vars: dict[str, Any] = Field(default_factory=dict)


def run_role(run: RoleRun, model: BaseChatModel, settings: Settings, *, renderer: PromptRenderer | None = None,
             sleep: Callable[[float], None] | None = None) -> AgentOutcome:
    """Run the role's loop; the model's report when it is valid, else the offline report with the reason."""
    label = model_label(model)
    renderer = renderer or PromptRenderer(settings.prompt_dir)
    budget = budget_from_settings(settings)
    hashes: dict[str, str] = {}
    try:
        system = renderer.render(run.role, tools=[t.name for t in run.tools], max_iterations=budget.max_iterations,
                                 final_tool=FINAL_TOOL, **run.extra_prompt_vars)
        brief = renderer.render("brief", incident_id=run.incident_id, services=list(run.services), alert_block=alert_block(run.alert),
                                offline_summary=run.offline_summary, task=run.task)
        hashes = {system.template: system.sha256, brief.template: brief.sha256}
        loop = ToolLoop(model, run.tools, run.final_schema, budget=budget, redactor=redactor_from_settings(settings),
                        final_description=run.final_description, **({"sleep": sleep} if sleep else {}))
        result: LoopResult = loop.run(system.text, brief.text)
    except (LumosError, ValueError, TypeError, NotImplementedError) as exc:
        result = LoopResult(ok=False, failure=f"could not start the model loop: {exc}")
    report, reason = run.offline, result.failure
    if result.ok:
        try:
            report, reason = run.apply(result.final), None
        except (LumosError, ValueError) as exc:
            reason = f"model report rejected: {exc}"
    return AgentOutcome(
        role=run.role, model=label, report=report, used_model=reason is None, fallback_reason=reason, prompt_hashes=hashes,
        usage=result.usage, cost_usd=cost_usd(label, result.usage.input_tokens, result.usage.output_tokens),
        iterations=result.iterations, tool_calls=[c.model_dump() for c in result.tool_calls],
    )
