"""Diagnosis nodes: intake, triage, the parallel analysis agents and correlation."""

from __future__ import annotations

import time
from typing import Any

from langchain_core.runnables import RunnableConfig

from lumos.agents.coordinator import triage as offline_triage
from lumos.agents.correlator import correlate as offline_correlate
from lumos.agents.dependency_mapper import map_dependencies
from lumos.agents.log_analyst import analyze_logs
from lumos.graph.resources import Resources
from lumos.graph.sources import open_sources
from lumos.graph.state import IncidentState
from lumos.tools.domain import Alert


def _top(hypotheses: list, n: int = 3) -> list[dict[str, Any]]:
    return [
        {"service": h.service, "fault_type": str(h.fault_type), "confidence": round(h.confidence, 3)} for h in hypotheses[:n]
    ]


class DiagnosisNodes:
    """The nodes that turn an alert into ranked root-cause hypotheses."""

    def __init__(self, resources: Resources):
        self.r = resources

    def intake(self, state: IncidentState, config: RunnableConfig) -> dict[str, Any]:
        """Validate the alert (it may arrive as JSON through LangGraph Server) and record the opening."""
        alert = state["alert"] if isinstance(state["alert"], Alert) else Alert.model_validate(state["alert"])
        incident_id = state.get("incident_id") or str(config.get("configurable", {}).get("thread_id", ""))
        if not incident_id:
            raise ValueError("an incident needs an incident_id or a thread_id")
        self.r.audit.append(
            incident_id,
            "incident.opened",
            {"alert": alert, "sources": dict(state.get("sources") or {})},
            actor=f"alert:{alert.source}",
            dedupe_key="incident.opened",
        )
        return {
            "incident_id": incident_id,
            "alert": alert,
            "status": "diagnosing",
            "started_at": state.get("started_at") or time.time(),
            "step_index": 0,
        }

    def triage(self, state: IncidentState) -> dict[str, Any]:
        """Coordinator: decide incident/baseline windows, focus services and which agents run."""
        sources = open_sources(state.get("sources"))
        report = offline_triage(
            state["alert"], sources.topology, data_window=sources.window(), onset_lookback_s=self.r.settings.onset_lookback_s
        )
        self.r.audit.append(state["incident_id"], "triage.done", {"report": report}, actor="agent:coordinator", dedupe_key="triage")
        return {"triage": report, "notes": list(report.notes)}

    def log_analysis(self, state: IncidentState) -> dict[str, Any]:
        """Log analysis agent: what changed in the logs when the incident started."""
        t0 = time.perf_counter()
        sources = open_sources(state.get("sources"))
        report = analyze_logs(sources.logs, state["triage"], max_evidence_per_service=self.r.settings.max_evidence_per_service)
        self.r.audit.append(
            state["incident_id"],
            "agent.report",
            {"agent": "log_analyst", "services": [(s.service, round(s.score, 3)) for s in report.services[:5]], "notes": report.notes},
            actor="agent:log_analyst",
            dedupe_key="agent.log_analyst",
        )
        return {"log_report": report, "timings": {"log_analysis_s": time.perf_counter() - t0}}

    def dependency_mapping(self, state: IncidentState) -> dict[str, Any]:
        """Dependency mapping agent: topology, traces, metrics and changes around the symptoms."""
        t0 = time.perf_counter()
        sources = open_sources(state.get("sources"))
        report = map_dependencies(
            topology=sources.topology, spans=sources.spans, metrics=sources.metrics, changes=sources.changes, triage=state["triage"]
        )
        self.r.audit.append(
            state["incident_id"],
            "agent.report",
            {"agent": "dependency_mapper", "services": [(s.service, round(s.score, 3)) for s in report.services[:5]], "notes": report.notes},
            actor="agent:dependency_mapper",
            dedupe_key="agent.dependency_mapper",
        )
        return {"dependency_report": report, "timings": {"dependency_mapping_s": time.perf_counter() - t0}}

    def correlate(self, state: IncidentState) -> dict[str, Any]:
        """Merge the agents' findings into ranked root-cause hypotheses with evidence."""
        sources = open_sources(state.get("sources"))
        hypotheses = offline_correlate(
            triage=state["triage"],
            log_report=state.get("log_report"),
            dependency_report=state["dependency_report"],
            topology=sources.topology,
        )
        elapsed = time.time() - state.get("started_at", time.time())
        self.r.audit.append(
            state["incident_id"],
            "diagnosis.ranked",
            {"top": _top(hypotheses, 5), "time_to_diagnosis_s": round(elapsed, 3)},
            actor="agent:coordinator",
            dedupe_key="diagnosis",
        )
        return {"hypotheses": hypotheses, "status": "diagnosed", "timings": {"diagnosis_s": elapsed}}
