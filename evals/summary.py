"""Aggregate per-case scores into the results.json summary (overall, per dataset, baselines)."""

from __future__ import annotations

import statistics
from collections import Counter, defaultdict
from typing import Any

import numpy as np

from lumos.evals.calibration import reliability
from lumos.evals.scoring import CaseScore

RATE_KEYS = ("rca_top1", "rca_top3", "fault_type_top1")
HIGHER_IS_BETTER = ("rca_top1", "rca_top3", "fault_type_top1", "runbook_ok")


def _mean(values: list[float]) -> float:
    return round(sum(values) / len(values), 4) if values else 0.0


BOOTSTRAP_RESAMPLES = 2000


def bootstrap_ci(hits: list[float], *, seed: int = 16) -> list[float] | None:
    """95% percentile bootstrap interval of a mean of 0/1 outcomes (seeded: the same run, the same interval)."""
    if not hits:
        return None
    rng = np.random.default_rng(seed)
    values = np.asarray(hits, dtype=float)
    means = values[rng.integers(0, len(values), size=(BOOTSTRAP_RESAMPLES, len(values)))].mean(axis=1)
    return [round(float(np.quantile(means, 0.025)), 4), round(float(np.quantile(means, 0.975)), 4)]


def _judged(scores: list[CaseScore]) -> list[CaseScore]:
    """Cases that count in the rates: every scored case, and every case that crashed (a miss)."""
    return [s for s in scores if s.scored or s.status == "error"]


def aggregate(scores: list[CaseScore]) -> dict[str, Any]:
    """Totals for one group of cases, with the two baselines on the same cases. A case that crashed
    counts as a miss in every rate (its error is listed apart)."""
    scored = [s for s in scores if s.scored]
    judged = _judged(scores)
    runbook_rows = [s for s in scored if s.runbook_ok is not None]
    ttd = [s.time_to_diagnosis_s for s in scores if s.status == "ok" and s.time_to_diagnosis_s is not None]
    row: dict[str, Any] = {
        "cases": len(scores),
        "scored": len(scored),
        "errors": sum(1 for s in scores if s.status == "error"),
    }
    for key in RATE_KEYS:
        row[key] = _mean([float(bool(getattr(s, key))) for s in judged])
    for key in ("rca_top1", "rca_top3"):
        row[f"{key}_ci95"] = bootstrap_ci([float(bool(getattr(s, key))) for s in judged])
    types = Counter(s.truth_fault_type for s in scored if s.truth_fault_type)
    row["fault_type_majority"] = (
        {"fault_type": types.most_common(1)[0][0], "rate": round(types.most_common(1)[0][1] / len(judged), 4)} if types else None
    )
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


def by_fault_type(scores: list[CaseScore]) -> dict[str, dict[str, Any]]:
    """Top-1/top-3/fault-type rates per true fault type (scored cases only: a crash has no type)."""
    groups: dict[str, list[CaseScore]] = defaultdict(list)
    for s in scores:
        if s.scored and s.truth_fault_type:
            groups[s.truth_fault_type].append(s)
    return {
        name: {"cases": len(rows), **{k: _mean([float(bool(getattr(s, k))) for s in rows]) for k in RATE_KEYS}}
        for name, rows in sorted(groups.items())
    }


def calibration(scores: list[CaseScore]) -> dict[str, Any]:
    """Reliability of the top hypothesis' confidence against top-1 correctness (Brier, ECE, 10 bins)."""
    rows = [s for s in scores if s.scored and s.confidence is not None]
    return reliability([s.confidence for s in rows], [bool(s.rca_top1) for s in rows]).model_dump()


def summarize(scores: list[CaseScore]) -> dict[str, Any]:
    """The `summary` object of results.json."""
    groups: dict[str, list[CaseScore]] = defaultdict(list)
    for score in scores:
        groups[score.dataset].append(score)
    overall = aggregate(scores)
    return {
        "overall": overall,
        "by_dataset": {name: aggregate(rows) for name, rows in sorted(groups.items())},
        "by_fault_type": by_fault_type(scores),
        "calibration": calibration(scores),
        "baselines": overall["baselines"],
    }
