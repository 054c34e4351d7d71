"""Compare two results.json files and list regressions beyond a tolerance (for CI gating)."""

from __future__ import annotations

from typing import Any

from pydantic import BaseModel

from lumos.evals.summary import RATE_KEYS


class Regression(BaseModel):
    """One score that got worse."""

    scope: str
    metric: str
    previous: float
    current: float

    def line(self) -> str:
        """Human-readable one-liner."""
        return f"{self.scope}: {self.metric} {self.previous:.3f} -> {self.current:.3f} ({self.current - self.previous:+.3f})"


def _rows(results: dict[str, Any]) -> dict[str, dict[str, Any]]:
    summary = results.get("summary", {})
    rows = {"overall": summary.get("overall", {})}
    rows.update({f"dataset {k}": v for k, v in summary.get("by_dataset", {}).items()})
    return rows


def find_regressions(previous: dict[str, Any], current: dict[str, Any], tolerance: float) -> list[Regression]:
    """Rates that dropped by more than `tolerance`, more errors, or any new unsafe action."""
    regressions: list[Regression] = []
    now = _rows(current)
    for scope, before in _rows(previous).items():
        after = now.get(scope)
        if after is None:
            continue
        for metric in RATE_KEYS:
            if metric in before and metric in after and after[metric] < before[metric] - tolerance:
                regressions.append(Regression(scope=scope, metric=metric, previous=before[metric], current=after[metric]))
        for metric in ("unsafe_actions", "errors"):
            if after.get(metric, 0) > before.get(metric, 0):
                regressions.append(Regression(scope=scope, metric=metric, previous=before.get(metric, 0), current=after[metric]))
    return regressions
