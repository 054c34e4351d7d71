"""The correlator's offline analyzer: merge log and dependency evidence into ranked hypotheses.

The dependency report already ranks services on the call graph from spans, metrics and
changes. Log signals are folded in the same way: errors a service logs are a symptom (its
callers log them too), so log evidence counts most where no callee is also logging errors.
The two are combined as a noisy-OR (either report alone can make the case for a service);
fault types take the strongest support from either report.
"""

from __future__ import annotations

from lumos.tools.diagnosis_model import DEFAULT_MODEL, DiagnosisModel
from lumos.tools.domain import DependencyReport, Evidence, FaultType, Hypothesis, LogReport, ServiceSignal, Topology, TriageReport

LOCAL_KINDS = frozenset({"cpu", "memory", "self_time", "net_in", "error_origin", "restarts", "pool", "disk"})
LOCAL_WORDING = ("memory_pressure", "crash_loop", "resource_exhaustion", "config_change", "bad_deploy")


def _log_scores(log_report: LogReport | None) -> dict[str, ServiceSignal]:
    """The log report's per-service signals by service name ({} without a report)."""
    if log_report is None:
        return {}
    return {s.service: s for s in log_report.services}


def _local_strength(sig: ServiceSignal) -> float:
    """How firmly the dependency report places a fault at the service itself: its rank score, or
    its strongest fault-type support when that comes from local evidence (CPU, network gaps...)."""
    return max(sig.score, max(sig.fault_hints.values(), default=0.0))


def _callees(topology: Topology) -> dict[str, set[str]]:
    """Who each service calls, from the topology (self-calls dropped)."""
    out: dict[str, set[str]] = {}
    for e in topology.calls:
        if e.caller != e.callee:
            out.setdefault(e.caller, set()).add(e.callee)
    return out


def _merge_hints(*hint_maps: tuple[dict[str, float], float]) -> dict[str, float]:
    """Fault-type support from several reports, combined as a noisy-OR per fault type: reports
    that see the service differently (spans/metrics vs log wording) and agree on a fault type
    make it likelier than either alone."""
    merged: dict[str, float] = {}
    for hints, weight in hint_maps:
        for k, v in hints.items():
            merged[k] = 1.0 - (1.0 - merged.get(k, 0.0)) * (1.0 - max(0.0, min(1.0, v * weight)))
    return merged


def correlate(
    *,
    triage: TriageReport,
    log_report: LogReport | None,
    dependency_report: DependencyReport,
    topology: Topology,
    model: DiagnosisModel = DEFAULT_MODEL,
    calibrate: bool = True,
) -> list[Hypothesis]:
    """Every candidate service as a Hypothesis (fault type, confidence 0-1, evidence), best first.

    With `calibrate` (the default), confidences are the model's calibrated probabilities that the
    hypothesis is the root cause (see `calibrated`); without it, the raw ranking scores."""
    logs = _log_scores(log_report)
    callees = _callees(topology)
    dep = {h.service: h for h in dependency_report.ranking}
    dep_signals = {s.service: s for s in dependency_report.services}
    services = set(dep) | set(logs) | set(topology.service_names())
    if not services and triage.alert_service:
        services = {triage.alert_service}
    out: list[Hypothesis] = []
    for svc in services:
        base = dep[svc].confidence if svc in dep else 0.0
        log_sig = logs.get(svc)
        log_score = log_sig.score if log_sig else 0.0
        # Errors a service logs are explained away by a callee that logs errors too, or whose own
        # resources/network the dependency report finds at fault (timeouts, failed calls upstream).
        explained = max(
            [logs[c].score for c in callees.get(svc, ()) if c in logs]
            + [_local_strength(dep_signals[c]) for c in callees.get(svc, ()) if c in dep_signals and LOCAL_KINDS & set(dep_signals[c].kinds)],
            default=0.0,
        )
        # Wording about the service's own resources (GC pauses, OOM, restarts, exhausted pools, bad
        # config) is not something a callee's fault explains.
        own_wording = max((log_sig.fault_hints.get(k, 0.0) for k in LOCAL_WORDING), default=0.0) if log_sig else 0.0
        explained *= 1.0 - own_wording
        log_part = log_score * (1.0 - explained)
        # Noisy-OR: either modality alone can make the case for a service.
        score = 1.0 - (1.0 - base) * (1.0 - model.log_weight * log_part)
        hints = _merge_hints(
            (dep_signals[svc].fault_hints if svc in dep_signals else {}, 1.0),
            (log_sig.fault_hints if log_sig else {}, model.log_weight),
        )
        fault = max(hints, key=hints.get) if hints else (dep[svc].fault_type.value if svc in dep else FaultType.unknown.value)
        evidence: list[Evidence] = list(dep[svc].evidence) if svc in dep else []
        if log_sig:
            evidence.extend(log_sig.evidence[:3])
        rationale = dep[svc].rationale if svc in dep else ""
        if log_sig:
            rationale = (rationale + "; " if rationale else "") + f"logs {log_score:.2f}"
        out.append(Hypothesis(service=svc, fault_type=FaultType(fault), confidence=max(0.0, min(1.0, score)), evidence=evidence[:8], rationale=rationale))
    out.sort(key=lambda h: (-h.confidence, h.service))
    return calibrated(out, model) if calibrate else out


def calibrated(hypotheses: list[Hypothesis], model: DiagnosisModel = DEFAULT_MODEL) -> list[Hypothesis]:
    """Raw ranking scores -> P(this hypothesis is the root cause), order kept. The top one is judged
    by its lead over the runner-up (the model's calibration); the rest share what is left, in
    proportion to their raw scores, so the probabilities never add up to more than one."""
    if not hypotheses:
        return hypotheses
    raw = [max(0.0, h.confidence) for h in hypotheses]
    top = model.calibration.probability(raw[0], raw[1] if len(raw) > 1 else 0.0)
    rest = sum(raw[1:])
    probs = [top] + [min(top, (1.0 - top) * r / rest) if rest > 0 else 0.0 for r in raw[1:]]
    return [h.model_copy(update={"confidence": round(p, 4), "rationale": f"{h.rationale}; raw score {r:.3f}".lstrip("; ")})
            for h, p, r in zip(hypotheses, probs, raw)]
