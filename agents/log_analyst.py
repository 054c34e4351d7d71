"""The log analysis agent's offline analyzer: what changed in the logs when the incident
started, per service, and which services look like where the fault began.

It works from `lumos.tools.logs.compare` (incident vs baseline, Poisson/binomial strengths)
and adds the judgement: errors that a service only relays from a callee (timeouts, refused
connections, 5xx received, "no instances available for X") count less for that service
and are passed on to the callee they name; evidence is bounded per service.
"""

from __future__ import annotations

from collections import defaultdict
from collections.abc import Sequence

from lumos.tools.diagnosis_model import DEFAULT_MODEL, DiagnosisModel, LogWeights
from lumos.tools.domain import Evidence, FaultType, Hypothesis, LogRecord, LogReport, ServiceSignal, TriageReport
from lumos.tools.logs.compare import ServiceLogStats, TemplateChange, WindowComparison, compare_windows
from lumos.tools.logs.stats import squash

# Every weight below comes from the diagnosis model (`LogWeights`), where each one's reasoning lives.
GENERIC_HINTS = frozenset({"error_injection", "bad_response"})
MAX_INDICATORS = 5


def _resource_wording(t: TemplateChange) -> bool:
    """True when a template's wording points at a specific fault (not just 'an error')."""
    return any(k not in GENERIC_HINTS for k in t.hints)


def _origin_factor(share_propagated: float, w: LogWeights = DEFAULT_MODEL.logs) -> float:
    return 1.0 - w.propagation_discount * share_propagated


def _template_strength(t: TemplateChange, w: LogWeights = DEFAULT_MODEL.logs) -> float:
    weight = 1.0 if t.error else w.ordinary_template_weight
    return t.increase * weight * _origin_factor(t.propagated_share, w) + w.decrease_weight * t.decrease


def _components(s: ServiceLogStats, w: LogWeights = DEFAULT_MODEL.logs) -> dict[str, float]:
    """Evidence strengths (in -log10 p units) of one service, by kind. Changes in the mix of
    ordinary (non-error) templates mostly follow the workload, so they count little."""
    error_tops = sorted((_template_strength(t, w) for t in s.templates if t.error), reverse=True)[:3]
    # Ordinary lines whose wording names a resource fault (GC pauses, restarts, pool waits) are
    # not workload mix: they keep the weight of a notable change.
    other_top = max(
        (_template_strength(t, w) * (w.notable_share if _resource_wording(t) else w.workload_share) for t in s.templates if not t.error),
        default=0.0,
    )
    return {
        "errors": s.error_increase * _origin_factor(s.propagated_share, w),
        "templates": w.notable_share * sum(error_tops) + other_top,
        # A longer wait after another service's line measures the call edge (either end, or the
        # network between), not this service: it counts half; waits after its own lines count fully.
        "latency": max(s.latency_increase, s.self_gap_increase, w.edge_gap_share * max(s.gap_increase, s.call_gap_increase)),
        "volume": 0.5 * w.workload_share * max(s.volume_increase, s.volume_decrease),
        "warnings": w.warning_weight * s.warning_increase,
    }


def _kinds(s: ServiceLogStats, parts: dict[str, float], blamed: float, w: LogWeights = DEFAULT_MODEL.logs) -> list[str]:
    kinds: list[str] = []
    if parts["errors"] >= w.notable_strength:
        kinds.append("error_rate")
    if any(t.new and t.increase >= w.notable_strength for t in s.templates):
        kinds.append("new_template")
    if any(not t.new and t.increase >= w.notable_strength for t in s.templates):
        kinds.append("template_burst")
    if max(s.latency_increase, s.gap_increase) >= w.notable_strength:
        kinds.append("latency")
    if any(code.startswith("exc:") for code in s.new_codes) or s.frames:
        kinds.append("exception")
    if any(not code.startswith("exc:") for code in s.new_codes):
        kinds.append("error_code")
    if s.volume_decrease >= 3.0:
        kinds.append("volume_drop")
    if s.volume_increase >= 3.0:
        kinds.append("volume_spike")
    if s.cur_errors and s.propagated_share >= 0.5:
        kinds.append("propagated_errors")
    if blamed >= w.notable_strength:
        kinds.append("named_by_callers")
    return kinds


def _hints(s: ServiceLogStats | None, parts: dict[str, float], received: dict[str, float], w: LogWeights = DEFAULT_MODEL.logs) -> dict[str, float]:
    """fault_type -> support 0-1 from the wording of anomalous lines and the kind of change."""
    hints: dict[str, float] = defaultdict(float)
    if s is not None:
        origin = _origin_factor(s.propagated_share, w)
        for fault, support in s.hints.items():
            # wording of relayed failures (timeouts...) describes the callee, not this service
            relayed = fault in ("network_delay", "network_loss", "dependency_outage")
            hints[fault] = max(hints[fault], support * (1.0 - origin if relayed else origin))
        if parts["errors"] + parts["templates"] >= w.notable_strength and not s.hints:
            hints["error_injection"] = max(hints["error_injection"], 0.4 * origin)
    for fault, support in received.items():
        hints[fault] = max(hints[fault], support)
    if s is not None and parts["latency"] >= w.notable_strength:
        # slower lines: CPU starvation and added network latency look alike in logs alone
        # (both delay the first line after a call), so both get the same support
        hints["cpu_saturation"] = max(hints["cpu_saturation"], 0.4)
        hints["network_delay"] = max(hints["network_delay"], 0.4)
    if s is not None and s.volume_decrease >= 3.0:
        hints["cpu_saturation"] = max(hints["cpu_saturation"], 0.3)
        hints["network_delay"] = max(hints["network_delay"], 0.25)
    return {k: round(min(v, 1.0), 3) for k, v in sorted(hints.items(), key=lambda kv: -kv[1]) if v > 0.05}


def _evidence(s: ServiceLogStats | None, blame_lines: list[str], limit: int, w: LogWeights = DEFAULT_MODEL.logs) -> list[Evidence]:
    items: list[Evidence] = []
    if s is not None:
        if s.error_increase >= w.notable_strength:
            items.append(Evidence(
                source="logs", service=s.service, ref=f"service:{s.service}", weight=round(min(1.0, s.error_increase / 10), 3),
                summary=(f"error lines {s.ref_errors}/{s.ref_lines} -> {s.cur_errors}/{s.cur_lines} "
                         f"(-log10 p={s.error_increase:.1f}; {100 * s.propagated_share:.0f}% look relayed from a callee)"),
            ))
        for t in sorted(s.templates, key=_template_strength, reverse=True):
            what = "new " if t.new else ""
            what += "error template" if t.error else "template"
            change = f"{t.ref_count} -> {t.cur_count} lines (expected {t.expected:.1f}, -log10 p={max(t.increase, t.decrease):.1f})"
            codes = f" [{', '.join(t.codes[:3])}]" if t.codes else ""
            items.append(Evidence(
                source="logs", service=s.service, ref=f"template:{t.template_id}",
                weight=round(min(1.0, _template_strength(t) / 10), 3),
                summary=f"{what} {change}{codes}: {t.template[:160]}",
            ))
        if s.latency_increase >= w.notable_strength:
            items.append(Evidence(
                source="logs", service=s.service, ref=f"service:{s.service}:latency",
                weight=round(min(1.0, s.latency_increase / 10), 3),
                summary=f"stated latency median {s.latency_ref_ms} ms -> {s.latency_cur_ms} ms (-log10 p={s.latency_increase:.1f})",
            ))
        if s.gap_increase >= w.notable_strength:
            items.append(Evidence(
                source="logs", service=s.service, ref=f"service:{s.service}:trace_gaps",
                weight=round(min(1.0, s.gap_increase / 10), 3),
                summary=(f"time to write its next line within a trace: median {s.gap_ref_ms} ms -> {s.gap_cur_ms} ms "
                         f"(-log10 p={s.gap_increase:.1f})"),
            ))
        for frame, n in list(s.frames.items())[:1]:
            items.append(Evidence(source="logs", service=s.service, ref=f"frame:{frame}", weight=0.3,
                                  summary=f"{n} stack traces with top frame {frame}"))
    for line in blame_lines:
        items.append(Evidence(source="logs", service=None if s is None else s.service, ref="mentions", weight=0.4, summary=line))
    items.sort(key=lambda e: -e.weight)
    return items[:limit]


def _default_fault(hints: dict[str, float]) -> FaultType:
    return FaultType(next(iter(hints))) if hints else FaultType.unknown


def report_from_comparison(cmp: WindowComparison, *, max_evidence_per_service: int = 5, model: DiagnosisModel = DEFAULT_MODEL) -> LogReport:
    """Score services from a window comparison and build the LogReport (pure function)."""
    w = model.logs
    stats = {s.service: s for s in cmp.services}
    parts = {name: _components(s, w) for name, s in stats.items()}
    blamed: dict[str, float] = defaultdict(float)
    received: dict[str, dict[str, float]] = defaultdict(dict)
    blame_lines: dict[str, list[str]] = defaultdict(list)
    for name, s in stats.items():
        relayed = parts[name]["errors"] / max(_origin_factor(s.propagated_share, w), 1e-9) * s.propagated_share
        relayed += sum(t.increase for t in s.templates[:3] if t.error and t.mentions) * 0.5
        if relayed <= 0 or not s.mentions:
            continue
        total = sum(s.mentions.values())
        for callee, n in s.mentions.items():
            amount = w.blame_share * relayed * n / total
            blamed[callee] += amount
            blame_lines[callee].append(f"{n} error lines of {name} name {callee}")
            for t in s.templates:
                if callee in t.mentions:
                    for fault, support in t.hints.items():
                        received[callee][fault] = max(received[callee].get(fault, 0.0), support * w.received_share)
    for callee in list(blamed):
        own = sum(parts[callee].values()) if callee in parts else 0.0
        blamed[callee] *= w.uncorroborated_blame + (1.0 - w.uncorroborated_blame) * min(1.0, own / (2 * w.notable_strength))
    signals: list[ServiceSignal] = []
    totals: dict[str, float] = {}
    for name in sorted(set(stats) | set(blamed)):
        s = stats.get(name)
        p = parts.get(name, {"errors": 0.0, "templates": 0.0, "latency": 0.0, "volume": 0.0, "warnings": 0.0})
        total = sum(p.values()) + blamed.get(name, 0.0)
        if total < w.notable_strength:
            continue
        totals[name] = total
        hints = _hints(s, p, received.get(name, {}), w)
        signals.append(ServiceSignal(
            service=name, score=round(squash(total, w.score_scale), 4), kinds=_kinds(s, p, blamed.get(name, 0.0), w) if s else ["named_by_callers"],
            fault_hints=hints, evidence=_evidence(s, blame_lines.get(name, [])[:2], max_evidence_per_service, w),
        ))
    signals.sort(key=lambda sig: (-sig.score, sig.service))
    indicators = []
    for sig in signals[:MAX_INDICATORS]:
        s = stats.get(sig.service)
        origin = _origin_factor(s.propagated_share, w) if s else 0.8
        fault = _default_fault(sig.fault_hints)
        reason = ", ".join(sig.kinds) or "log changes"
        rationale = f"logs of {sig.service}: {reason} (anomaly {sig.score:.2f})"
        if s and s.propagated_share >= 0.5:
            rationale += f"; {100 * s.propagated_share:.0f}% of its errors look relayed from callees ({', '.join(list(s.mentions)[:3]) or 'unnamed'})"
        indicators.append(Hypothesis(
            service=sig.service, fault_type=fault, confidence=round(min(1.0, sig.score * origin), 4),
            evidence=sig.evidence[:2], rationale=rationale,
        ))
    indicators.sort(key=lambda h: (-h.confidence, h.service))
    return LogReport(
        services=signals, indicators=indicators, lines_read=cmp.lines_read, lines_skipped=cmp.lines_ignored,
        templates=cmp.templates, notes=list(cmp.notes),
    )


def compare_logs(records: Sequence[LogRecord], triage: TriageReport) -> WindowComparison:
    """The evidence stage of the log analysis: the triage windows compared (the expensive part)."""
    known = [s for s in [triage.alert_service, *triage.focus_services] if s]
    return compare_windows(records, triage.incident_window, triage.baseline_window, known_services=known)


def analyze_logs(records: Sequence[LogRecord], triage: TriageReport, *, max_evidence_per_service: int = 5,
                 model: DiagnosisModel = DEFAULT_MODEL) -> LogReport:
    """Compare the incident window with the baseline window of the triage report (records
    outside both are ignored) and report per-service anomalies and root-cause indicators."""
    if not records:
        return LogReport(notes=["no log records for this incident"])
    return report_from_comparison(compare_logs(records, triage), max_evidence_per_service=max_evidence_per_service, model=model)
