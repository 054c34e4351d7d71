"""Diagnosis nodes: intake, triage, the parallel analysis agents and correlation."""

from __future__ import annotations

import time
from collections.abc import Callable
from typing import Any

from langchain_core.language_models import BaseChatModel
from langchain_core.runnables import RunnableConfig

from lumos.agents.coordinator import triage_from_sources
from lumos.agents.correlator import correlate as offline_correlate
from lumos.agents.dependency_mapper import map_dependencies
from lumos.agents.llm.agent import AgentOutcome
from lumos.agents.llm.config import ModelFactory, Role, settings_model_factory
from lumos.agents.llm.coordinator_agent import triage_llm
from lumos.agents.llm.dependency_agent import map_dependencies_llm
from lumos.agents.llm.log_agent import analyze_logs_llm
from lumos.agents.log_analyst import analyze_logs
from lumos.graph.resources import Resources
from lumos.graph.sources import open_sources
from lumos.graph.state import IncidentState
from lumos.graph.workflow_nodes import select_workflow
from lumos.tools.domain import Alert
from lumos.tools.traces.spans import span_index_of


def _top(hypotheses: list, n: int = 3) -> list[dict[str, Any]]:
    return [
        {"service": h.service, "fault_type": str(h.fault_type), "confidence": round(h.confidence, 3)} for h in hypotheses[:n]
    ]


MODELS_KEY = "lumos_models"
"""`config["configurable"][MODELS_KEY]`: a ModelFactory (role -> chat model or None) overriding the settings' models."""


def _model(resources: Resources, role: Role, config: RunnableConfig | None) -> tuple[BaseChatModel | None, str | None]:
    """The role's model (None = offline), or the reason it could not be built."""
    factory: ModelFactory | None = ((config or {}).get("configurable") or {}).get(MODELS_KEY)
    if factory is None:
        if resources.settings.mode != "llm":
            return None, None
        factory = settings_model_factory(resources.settings)
    try:
        return factory(role), None
    except Exception as exc:  # a bad model spec must not stop the incident: the offline analyzer answers
        return None, f"could not build the {role} model: {exc}"


def with_model(resources: Resources, role: Role, state: IncidentState, config: RunnableConfig | None, offline: Any,
               run: Callable[[BaseChatModel], AgentOutcome]) -> tuple[Any, dict[str, Any]]:
    """Run a role's LLM loop when a model is configured: (report, extra state update). Offline: (offline, {}).

    Any failure gives the offline report, an `llm.loop` audit record saying why and a note; never an exception.
    """
    model, problem = _model(resources, role, config)
    if model is None and problem is None:
        return offline, {}
    if model is None:
        outcome = AgentOutcome(role=role, model="unavailable", report=offline, used_model=False, fallback_reason=problem)
    else:
        try:
            outcome = run(model)
        except Exception as exc:  # never crash an incident on a model problem
            outcome = AgentOutcome(role=role, model=type(model).__name__, report=offline, used_model=False,
                                   fallback_reason=f"agent loop error: {type(exc).__name__}: {exc}")
    resources.audit.append(state["incident_id"], "llm.loop", outcome.audit_data(), actor=f"agent:{role}", dedupe_key=f"llm.{role}")
    update: dict[str, Any] = {"llm_usage": outcome.usage_update()}
    if not outcome.used_model:
        update["notes"] = [f"{role}: model unavailable or unusable ({outcome.fallback_reason}); used the offline analyzer's report"]
    return outcome.report, update


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
        t0 = time.perf_counter()
        sources, notes = self._live_sources(incident_id, alert, dict(state.get("sources") or {}))
        collect_s = time.perf_counter() - t0
        self.r.audit.append(
            incident_id,
            "incident.opened",
            {"alert": alert, "sources": sources},
            actor=f"alert:{alert.source}",
            dedupe_key="incident.opened",
        )
        if notes is not None:
            self.r.audit.append(incident_id, "sources.collected", {"notes": notes, "sources": sources}, actor="graph:intake",
                                dedupe_key="sources.collected")
        workflow = select_workflow(self.r, {**state, "incident_id": incident_id, "sources": sources}, alert)  # type: ignore[typeddict-item]
        self.r.audit.append(incident_id, "workflow.selected", workflow, actor="graph:intake", dedupe_key="workflow.selected")
        update: dict[str, Any] = {
            "sources": sources,
            "notes": notes or [],
            "timings": {"collect_s": collect_s} if notes is not None else {},
            "workflow": workflow,
            "stage_index": 0,
            "incident_id": incident_id,
            "alert": alert,
            "status": "diagnosing",
            "started_at": state.get("started_at") or time.time(),
            "step_index": 0,
        }
        if sources.get("kind", "none") == "none":  # nothing to diagnose from: a human takes it at once
            update["escalation"] = ("no data source is configured for this incident (no logs, traces, metrics or topology): "
                                    "not diagnosed, nothing run")
            update["escalation_kind"] = "no_data"
        return update

    def _live_sources(self, incident_id: str, alert: Alert, spec: dict[str, Any]) -> tuple[dict[str, Any], list[str] | None]:
        """For a live incident not collected yet: read every configured source once (into the incident's
        folder) and return (its spec, one note per source). Other incidents keep their spec (notes None)."""
        if spec.get("kind") != "live" or spec.get("path"):
            return spec, None
        if self.r.live is None:
            return {"kind": "none"}, ["live sources requested but no lumos.yaml is configured (--config or LUMOS_CONFIG)"]
        onset = self.r.model.onset  # triage looks for the onset up to max_alert_delay_s before the alert
        reach = max(onset.max_alert_delay_s + onset.margin_s, self.r.settings.onset_lookback_s or onset.alert_lookback_s)
        new_spec, collected = self.r.live.collect(self.r.settings, incident_id, alert, onset_reach_s=reach)
        self.r.live.seed_world(self.r.settings.simenv_db, incident_id, alert)
        return dict(new_spec), [s.line() for s in collected.statuses]

    def triage(self, state: IncidentState, config: RunnableConfig) -> dict[str, Any]:
        """Coordinator: decide incident/baseline windows, focus services and which agents run."""
        sources = open_sources(state.get("sources"))
        model = self.r.model
        if self.r.settings.onset_lookback_s is not None:
            model = model.with_updates({"onset.alert_lookback_s": self.r.settings.onset_lookback_s})
        report = triage_from_sources(state["alert"], sources, model=model)
        report, extra = with_model(self.r, "coordinator", state, config, report, lambda m: triage_llm(
            m, self.r.settings, incident_id=state["incident_id"], alert=state["alert"], topology=sources.topology, offline=report))
        self.r.audit.append(state["incident_id"], "triage.done", {"report": report}, actor="agent:coordinator", dedupe_key="triage")
        return {"triage": report, **extra, "notes": list(report.notes) + extra.get("notes", [])}

    def log_analysis(self, state: IncidentState, config: RunnableConfig) -> dict[str, Any]:
        """Log analysis agent: what changed in the logs when the incident started."""
        t0 = time.perf_counter()
        sources = open_sources(state.get("sources"))
        report = analyze_logs(sources.logs, state["triage"], max_evidence_per_service=self.r.settings.max_evidence_per_service,
                              model=self.r.model)
        report, extra = with_model(self.r, "log_analyst", state, config, report, lambda m: analyze_logs_llm(
            m, self.r.settings, incident_id=state["incident_id"], alert=state["alert"], records=sources.logs, triage=state["triage"],
            offline=report, services=sources.topology.service_names()))
        self.r.audit.append(
            state["incident_id"],
            "agent.report",
            {"agent": "log_analyst", "services": [(s.service, round(s.score, 3)) for s in report.services[:5]], "notes": report.notes},
            actor="agent:log_analyst",
            dedupe_key="agent.log_analyst",
        )
        return {"log_report": report, "timings": {"log_analysis_s": time.perf_counter() - t0}, **extra}

    def dependency_mapping(self, state: IncidentState, config: RunnableConfig) -> dict[str, Any]:
        """Dependency mapping agent: topology, traces, metrics and changes around the symptoms."""
        t0 = time.perf_counter()
        sources = open_sources(state.get("sources"))
        report = map_dependencies(
            topology=sources.topology, spans=(), metrics=sources.metrics, changes=sources.changes, triage=state["triage"],
            model=self.r.model, index=span_index_of(sources), logs=sources.logs,
        )
        report, extra = with_model(self.r, "dependency_mapper", state, config, report, lambda m: map_dependencies_llm(
            m, self.r.settings, incident_id=state["incident_id"], alert=state["alert"], topology=sources.topology,
            metrics=sources.metrics, changes=sources.changes, triage=state["triage"], offline=report))
        self.r.audit.append(
            state["incident_id"],
            "agent.report",
            {"agent": "dependency_mapper", "services": [(s.service, round(s.score, 3)) for s in report.services[:5]], "notes": report.notes},
            actor="agent:dependency_mapper",
            dedupe_key="agent.dependency_mapper",
        )
        return {"dependency_report": report, "timings": {"dependency_mapping_s": time.perf_counter() - t0}, **extra}

    def correlate(self, state: IncidentState) -> dict[str, Any]:
        """Merge the agents' findings into ranked root-cause hypotheses with evidence."""
        sources = open_sources(state.get("sources"))
        hypotheses = offline_correlate(
            triage=state["triage"],
            log_report=state.get("log_report"),
            dependency_report=state["dependency_report"],
            topology=sources.topology,
            model=self.r.model,
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
