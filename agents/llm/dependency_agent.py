"""The dependency mapping agent's LLM loop: topology, metrics and change tools plus the offline
DependencyReport, returning a DependencyReport."""

from __future__ import annotations

from collections.abc import Sequence

from langchain_core.language_models import BaseChatModel
from pydantic import BaseModel, ConfigDict, Field

from lumos.agents.llm.agent import AgentOutcome, RoleRun, run_role
from lumos.agents.llm.drafts import ServiceFindings, apply_dependency_findings
from lumos.agents.llm.toolkit import AgentTool, tool
from lumos.tools.changes import correlate_changes
from lumos.tools.domain import Alert, Change, DependencyReport, MetricSample, Topology, TriageReport
from lumos.tools.metrics.anomaly import service_anomalies
from lumos.tools.settings import Settings
from lumos.tools.topology.graph import build_call_graph
from lumos.tools.topology.queries import blast_radius, call_paths, downstream, upstream


class ServiceArgs(BaseModel):
    """A service and how many calls away to look."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(description="Exact service name from the topology.")
    depth: int = Field(default=1, ge=1, le=6, description="How many calls away (1 = direct neighbours).")


class PathArgs(BaseModel):
    """Two services."""

    model_config = ConfigDict(extra="forbid")

    source: str = Field(description="Service where the symptom is seen (e.g. the alerting one).")
    target: str = Field(description="Suspected root-cause service.")


def dependency_tools(topology: Topology, metrics: Sequence[MetricSample], changes: Sequence[Change], triage: TriageReport,
                     offline: DependencyReport) -> list[AgentTool]:
    """The dependency mapper's tools over one incident's topology, metrics and changes (read-only)."""
    graph, _ = build_call_graph(topology)

    @tool("offline_dependency_report")
    def offline_report(_: BaseModel) -> object:
        """The deterministic dependency analyzer's findings: per-service anomaly signals from traces, metrics
        and changes, a graph-based root-cause ranking (best first) and the blast radius. Start here."""
        return offline.model_copy(update={"services": offline.services[:10], "ranking": offline.ranking[:10], "mermaid": None})

    @tool("callers", ServiceArgs)
    def callers(a: ServiceArgs) -> object:
        """Services that call `service` (its upstream callers), up to `depth` calls away, nearest first. A fault in
        `service` shows up in these. Returns no_data for an unknown service."""
        return upstream(graph, a.service, a.depth)

    @tool("callees", ServiceArgs)
    def callees(a: ServiceArgs) -> object:
        """Services that `service` calls (its downstream dependencies), up to `depth` calls away, nearest first.
        Where a symptom is seen, the root cause is often among these."""
        return downstream(graph, a.service, a.depth)

    @tool("call_paths", PathArgs)
    def paths(a: PathArgs) -> object:
        """Up to 5 call paths from `source` to `target`, shortest first: how a fault in `target` reaches `source`."""
        return call_paths(graph, a.source, a.target)

    @tool("blast_radius", ServiceArgs)
    def radius(a: ServiceArgs) -> object:
        """Who is affected if `service` fails: all transitive callers, the user-facing ones, and an impact share 0-1."""
        return blast_radius(graph, a.service)

    @tool("metric_shifts", ServiceArgs)
    def metric_shifts(a: ServiceArgs) -> object:
        """How `service`'s metrics (CPU, memory, latency, errors, traffic...) changed from the baseline to the incident
        window, most anomalous first: baseline median, incident mean, shift z (positive = worse) and a score 0-1."""
        return service_anomalies(metrics, a.service, triage.incident_window, triage.baseline_window)[:10]

    @tool("recent_changes")
    def recent(_: BaseModel) -> object:
        """Deploys, config changes and flag flips shortly before the incident onset, most suspicious first, with
        seconds before the onset, graph distance to the symptomatic services and a suspicion score 0-1."""
        found = correlate_changes(changes, triage.incident_window.start, triage.focus_services, graph)
        return [{"service": c.change.service, "kind": c.change.kind, "summary": c.change.summary[:200], "version": c.change.version,
                 "seconds_before_onset": round(c.seconds_before_onset), "distance": c.distance, "suspicion": round(c.suspicion, 3)}
                for c in found[:10]]

    return [offline_report, callers, callees, paths, radius, metric_shifts, recent]


def map_dependencies_llm(model: BaseChatModel, settings: Settings, *, incident_id: str, alert: Alert, topology: Topology,
                         metrics: Sequence[MetricSample], changes: Sequence[Change], triage: TriageReport,
                         offline: DependencyReport) -> AgentOutcome:
    """The dependency mapper's loop; the DependencyReport it returns is the model's ranking or, on any failure, `offline`."""
    services = topology.service_names()
    summary = "\n".join(f"- {h.service}: {h.fault_type} confidence {h.confidence:.2f}" for h in offline.ranking[:5]) or "- no ranking"
    run = RoleRun(
        role="dependency_mapper", tools=dependency_tools(topology, metrics, changes, triage, offline), final_schema=ServiceFindings,
        final_description="Submit the final root-cause ranking: services most likely to be the origin first, with fault type and reason.",
        offline=offline, apply=lambda draft: apply_dependency_findings(draft, offline, services), incident_id=incident_id,
        alert=alert, services=services, offline_summary=summary,
        task="Rank the services most likely to be the root cause, using the call graph, metrics and changes.",
    )
    return run_role(run, model, settings)
