"""The incident state shared by every node, with reducers for fields parallel branches write."""

from __future__ import annotations

import operator
from typing import Annotated, Any, Literal, TypedDict

from lumos.tools.domain import (
    ActionResult,
    Alert,
    Approval,
    DependencyReport,
    Hypothesis,
    LogReport,
    PlannedStep,
    RunbookChoice,
    TriageReport,
)

IncidentStatus = Literal["open", "diagnosing", "diagnosed", "remediating", "awaiting_approval", "resolved", "escalated"]


def merge_dicts(left: dict[str, Any] | None, right: dict[str, Any] | None) -> dict[str, Any]:
    """Reducer: merge dict updates from parallel branches (right wins on equal keys)."""
    return {**(left or {}), **(right or {})}


def sum_usage(left: dict[str, dict[str, float]] | None, right: dict[str, dict[str, float]] | None) -> dict[str, dict[str, float]]:
    """Reducer: add per-role model usage counters (calls, tokens, cost) from every agent loop."""
    out = {role: dict(counters) for role, counters in (left or {}).items()}
    for role, counters in (right or {}).items():
        mine = out.setdefault(role, {})
        for key, value in counters.items():
            mine[key] = round(mine.get(key, 0) + value, 6)
    return out


class SourceSpec(TypedDict, total=False):
    """Where the incident's observability data lives (serialisable so a resumed process can reopen it)."""

    kind: Literal["case", "live", "none"]
    path: str
    """The case folder; for a live incident, the folder its data was collected into at intake."""


class IncidentState(TypedDict, total=False):
    """One incident, from alert to resolution. Nodes return partial updates of these fields."""

    incident_id: str
    """Also the checkpointer thread id and the audit-trail key."""
    alert: Alert
    """The normalised alert that opened the incident."""
    sources: SourceSpec
    """Where logs, spans, metrics, topology and changes come from."""
    started_at: float
    """Epoch seconds when intake ran (for time to diagnosis)."""
    status: IncidentStatus
    triage: TriageReport
    log_report: LogReport | None
    dependency_report: DependencyReport | None
    hypotheses: list[Hypothesis]
    """Ranked root-cause hypotheses, best first."""
    runbook: RunbookChoice | None
    plan: list[PlannedStep]
    step_index: int
    """Index into `plan` of the step being worked on."""
    approvals: Annotated[list[Approval], operator.add]
    results: Annotated[list[ActionResult], operator.add]
    escalation: str | None
    """Why the incident was handed to a human, when it was."""
    summary: str | None
    timings: Annotated[dict[str, float], merge_dicts]
    """Seconds spent per phase (diagnosis_s, ...)."""
    notes: Annotated[list[str], operator.add]
    """Things responders should know (missing data, fallbacks)."""
    workflow: dict[str, str]
    """The workflow handling this incident: {"name", "reason"} (chosen at intake, recorded in the audit trail)."""
    stage_index: int
    """Index of the workflow's next agent stage (advanced by `stage_done`)."""
    agent_findings: Annotated[dict[str, Any], merge_dicts]
    """Findings of plugin agents, by agent name."""
    branch: dict[str, Any] | None
    """The workflow branch taken after diagnosis, if any: {"name", "runbook", "reason"}."""
    approval_requested_at: Annotated[dict[str, float], merge_dicts]
    """Epoch seconds when each gated step (by str(step index)) first asked for approval (for gate timeouts)."""
    escalation_kind: str | None
    """Why, in one word: gate_timeout, rejected, runbook_failed, low_confidence, no_runbook, no_data, stalled, other."""
    llm_usage: Annotated[dict[str, dict[str, float]], sum_usage]
    """Model usage per agent role (calls, input_tokens, output_tokens, cost_usd, fallbacks); absent offline."""
