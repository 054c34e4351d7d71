"""What the agents find: evidence, per-service signals, hypotheses and the agent reports."""

from __future__ import annotations

from datetime import datetime
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.domain.base import FaultType, TimeWindow

EvidenceSource = Literal["logs", "spans", "metrics", "changes", "topology", "alert", "runbook", "model"]


class _Finding(BaseModel):
    """Findings are produced by LUMOS itself; they are frozen and strict."""

    model_config = ConfigDict(extra="forbid", frozen=True)


class Evidence(_Finding):
    """One observation supporting a finding, pointing back at where it came from."""

    source: EvidenceSource
    summary: str = Field(description="One line a responder can read, e.g. 'error rate 0.2% -> 31% (z=12.4)'.")
    ref: str | None = Field(default=None, description="Where to look: 'logs.jsonl:120', 'template:3fa2', 'metric:cpu_usage_pct'.")
    service: str | None = None
    weight: float = Field(default=0.0, description="How strongly this points at the service (0-1).")


class ServiceSignal(_Finding):
    """How anomalous one service looks to one agent, with the evidence for it."""

    service: str
    score: float = Field(ge=0.0, le=1.0, description="Anomaly score 0-1 (1 = certainly anomalous).")
    kinds: list[str] = Field(default_factory=list, description="What is anomalous: error_rate, latency, new_template, cpu, ...")
    fault_hints: dict[str, float] = Field(default_factory=dict, description="fault_type -> support 0-1 suggested by this signal.")
    evidence: list[Evidence] = Field(default_factory=list)


class Hypothesis(_Finding):
    """A ranked root-cause candidate."""

    service: str
    fault_type: FaultType
    confidence: float = Field(ge=0.0, le=1.0)
    evidence: list[Evidence] = Field(default_factory=list)
    rationale: str = ""
    instance: str | None = None


class TriageReport(_Finding):
    """The coordinator's split of the incident: where to look, when, and who works on it."""

    incident_window: TimeWindow
    baseline_window: TimeWindow
    alert_service: str | None
    alert_time: datetime | None = None
    onset: datetime | None = Field(default=None, description="The incident's onset found in the data (None: the window follows the alert).")
    onset_source: str = Field(default="alert", description="Where the onset was found: spans, metrics, or alert (a fixed look-back).")
    focus_services: list[str] = Field(default_factory=list)
    severity: str = "warning"
    incident_class: str = "default"
    agents: list[str] = Field(default_factory=list)
    notes: list[str] = Field(default_factory=list)


class LogReport(_Finding):
    """The log analysis agent's report; evidence lines are bounded, never a dump."""

    agent: Literal["log_analyst"] = "log_analyst"
    services: list[ServiceSignal] = Field(default_factory=list, description="Most anomalous first.")
    indicators: list[Hypothesis] = Field(default_factory=list, description="Root-cause indicators with confidence and reason.")
    lines_read: int = 0
    lines_skipped: int = 0
    templates: int = 0
    notes: list[str] = Field(default_factory=list)


class DependencyReport(_Finding):
    """The dependency mapping agent's report: per-service signals from spans, metrics, changes and the graph."""

    agent: Literal["dependency_mapper"] = "dependency_mapper"
    services: list[ServiceSignal] = Field(default_factory=list, description="Most anomalous first.")
    ranking: list[Hypothesis] = Field(default_factory=list, description="Graph-based ranking, best first.")
    alert_service: str | None = None
    blast_radius: list[str] = Field(default_factory=list)
    mermaid: str | None = None
    notes: list[str] = Field(default_factory=list)


class RunbookChoice(_Finding):
    """The runbook picked for the top hypothesis, and the runners-up."""

    runbook_id: str
    title: str
    score: float
    reason: str
    target_service: str
    alternatives: list[str] = Field(default_factory=list)
    chosen_at: datetime | None = None
