"""Aggregate per-case scores into the results.json summary (overall, per dataset, baselines)."""

from __future__ import annotations

import statistics
from collections import defaultdict
from typing import Any

from lumos.evals.scoring import CaseScore

RATE_KEYS = ("rca_top1", "rca_top3", "fault_type_top1")
HIGHER_IS_BETTER = ("rca_top1", "rca_top3", "fault_type_top1", "runbook_ok")


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


def aggregate(scores: list[CaseScore]) -> dict[str, Any]:
    """Totals for one group of cases, with the two baselines on the same cases."""
    scored = [s for s in scores if s.scored]
    runbook_rows = [s for s in scored if s.runbook_ok is not None]
    ttd = [s.time_to_diagnosis_s for s in scores if s.status == "ok" and s.time_to_diagnosis_s is not None]
    row: dict[str, Any] = {
        "cases": len(scores),
        "scored": len(scored),
        "errors": sum(1 for s in scores if s.status == "error"),
    }
    for key in RATE_KEYS:
        row[key] = _mean([float(bool(getattr(s, key))) for s in scored])
    row["runbook_ok"] = _mean([float(bool(s.runbook_ok)) for s in runbook_rows]) if runbook_rows else None
    row["unsafe_actions"] = sum(s.unsafe_actions for s in scores)
    row["time_to_diagnosis_s_p50"] = round(statistics.median(ttd), 4) if ttd else 0.0
    row["time_to_diagnosis_s_p95"] = round(sorted(ttd)[max(0, int(0.95 * len(ttd)) - 1)], 4) if ttd else 0.0
    row["llm_calls"] = sum(s.llm_calls for s in scores)
    row["tokens_in"] = sum(s.tokens_in for s in scores)
    row["tokens_out"] = sum(s.tokens_out for s in scores)
    row["baselines"] = baseline_rates(scored)
    return row


def baseline_rates(scored: list[CaseScore]) -> dict[str, dict[str, float]]:
    """Mean top-1/top-3 of the random and alerting-service baselines."""
    rand = [s.baseline_random for s in scored if s.baseline_random is not None]
    alert = [s.baseline_alert_service for s in scored if s.baseline_alert_service is not None]
    return {
        "random": {"rca_top1": _mean([r[0] for r in rand]), "rca_top3": _mean([r[1] for r in rand])},
        "alert_service": {"rca_top1": _mean([a[0] for a in alert]), "rca_top3": _mean([a[1] for a in alert])},
    }


def summarize(scores: list[CaseScore]) -> dict[str, Any]:
    """The `summary` object of results.json."""
    groups: dict[str, list[CaseScore]] = defaultdict(list)
    for score in scores:
        groups[score.dataset].append(score)
    overall = aggregate(scores)
    return {
        "overall": overall,
        "by_dataset": {name: aggregate(rows) for name, rows in sorted(groups.items())},
        "baselines": overall["baselines"],
    }
