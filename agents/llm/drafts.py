"""What a model may hand back (drafts), and how a draft becomes the role's report type. A draft can
only re-rank, re-score and annotate services the incident knows; it can never add an action."""

from __future__ import annotations

from collections.abc import Collection

from pydantic import BaseModel, ConfigDict, Field

from lumos.tools.domain import DependencyReport, Evidence, FaultType, Hypothesis, LogReport, ServiceSignal, TriageReport


class ServiceAssessment(BaseModel):
    """The model's view of one service."""

    model_config = ConfigDict(extra="forbid")

    service: str = Field(description="Exact service name from the topology.")
    score: float = Field(ge=0.0, le=1.0, description="How likely this service is the origin of the incident (0-1).")
    fault_type: FaultType | None = Field(default=None, description="Most likely fault type, if any.")
    reason: str = Field(default="", max_length=500, description="One or two sentences citing tool results.")


class ServiceFindings(BaseModel):
    """Final report of the log analysis or dependency mapping agent: services ranked, most likely origin first."""

    model_config = ConfigDict(extra="forbid")

    services: list[ServiceAssessment] = Field(default_factory=list, max_length=20)
    notes: list[str] = Field(default_factory=list, max_length=10, description="Short remarks for responders (data gaps, doubts).")


class TriageDecision(BaseModel):
    """Final report of the coordinator's triage."""

    model_config = ConfigDict(extra="forbid")

    focus_services: list[str] = Field(default_factory=list, max_length=20, description="Services to investigate, most relevant first.")
    incident_class: str | None = Field(default=None, max_length=60, description="Short class, e.g. 'database:critical'.")
    notes: list[str] = Field(default_factory=list, max_length=10)


def _model_notes(notes: list[str]) -> list[str]:
    return [f"model: {n[:300]}" for n in notes]


def _check_known(findings: ServiceFindings, known: Collection[str]) -> tuple[list[ServiceAssessment], list[str]]:
    kept, dropped = [], []
    for a in findings.services:
        (kept if a.service in known else dropped).append(a)
    if findings.services and not kept:
        raise ValueError(f"none of the services the model named exist ({', '.join(a.service for a in dropped)[:200]})")
    notes = [f"model named unknown service {a.service[:60]!r}; ignored" for a in dropped[:5]]
    return kept, notes


def _model_evidence(a: ServiceAssessment) -> list[Evidence]:
    return [Evidence(source="model", summary=a.reason[:300], service=a.service, weight=a.score)] if a.reason else []


def _rescored(signal: ServiceSignal | None, a: ServiceAssessment) -> ServiceSignal:
    hints = dict(signal.fault_hints) if signal else {}
    if a.fault_type is not None:
        hints[a.fault_type.value] = max(hints.get(a.fault_type.value, 0.0), a.score)
    return ServiceSignal(service=a.service, score=a.score, kinds=list(signal.kinds) if signal else ["model"], fault_hints=hints,
                         evidence=[*(signal.evidence if signal else []), *_model_evidence(a)])


def _merge_signals(offline: list[ServiceSignal], kept: list[ServiceAssessment]) -> list[ServiceSignal]:
    by_name = {s.service: s for s in offline}
    seen = {a.service for a in kept}
    return [_rescored(by_name.get(a.service), a) for a in kept] + [s for s in offline if s.service not in seen]


def apply_log_findings(findings: ServiceFindings, offline: LogReport, known: Collection[str]) -> LogReport:
    """The offline LogReport re-ranked and re-scored by the model; unknown services are ignored (noted)."""
    kept, notes = _check_known(findings, set(known) | {s.service for s in offline.services})
    return offline.model_copy(update={"services": _merge_signals(offline.services, kept),
                                      "notes": [*offline.notes, *notes, *_model_notes(findings.notes)]})


def apply_dependency_findings(findings: ServiceFindings, offline: DependencyReport, known: Collection[str]) -> DependencyReport:
    """The offline DependencyReport with the model's ranking first (offline evidence kept); unknown services ignored."""
    kept, notes = _check_known(findings, set(known) | {s.service for s in offline.services})
    offline_hyp = {h.service: h for h in offline.ranking}
    ranking: list[Hypothesis] = []
    for a in kept:
        base = offline_hyp.get(a.service)
        fault = a.fault_type or (base.fault_type if base else None)
        if fault is None:
            continue
        ranking.append(Hypothesis(service=a.service, fault_type=fault, confidence=a.score,
                                  evidence=[*(base.evidence if base else []), *_model_evidence(a)],
                                  rationale=a.reason[:500] or (base.rationale if base else ""), instance=base.instance if base else None))
    named = {h.service for h in ranking}
    ranking += [h for h in offline.ranking if h.service not in named]
    return offline.model_copy(update={"services": _merge_signals(offline.services, kept), "ranking": ranking,
                                      "notes": [*offline.notes, *notes, *_model_notes(findings.notes)]})


def apply_triage(decision: TriageDecision, offline: TriageReport, known: Collection[str]) -> TriageReport:
    """The offline triage with the model's focus services (known ones only) and class; windows stay the analyzer's."""
    known_set = set(known) | set(offline.focus_services)
    focus = [s for s in decision.focus_services if s in known_set]
    if decision.focus_services and not focus:
        raise ValueError("none of the model's focus services exist")
    if offline.alert_service and offline.alert_service not in focus:
        focus.insert(0, offline.alert_service)
    focus = list(dict.fromkeys(focus or offline.focus_services))
    return offline.model_copy(update={"focus_services": focus, "incident_class": decision.incident_class or offline.incident_class,
                                      "notes": [*offline.notes, *_model_notes(decision.notes)]})
