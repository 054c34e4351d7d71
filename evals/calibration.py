"""Is the diagnosis' confidence a probability? Reliability table, Brier score, expected calibration error."""

from __future__ import annotations

from collections.abc import Sequence

from pydantic import BaseModel


class ReliabilityBin(BaseModel):
    """Cases whose top confidence fell in [low, high): how confident, how often right."""

    low: float
    high: float
    n: int
    confidence: float
    accuracy: float


class Reliability(BaseModel):
    """Calibration of the top hypothesis' confidence against whether it was the root cause."""

    n: int
    brier: float
    ece: float
    bins: list[ReliabilityBin]


def reliability(confidences: Sequence[float], hits: Sequence[bool], *, bins: int = 10) -> Reliability:
    """Equal-width bins over [0, 1]; ECE = sum over bins of (n_bin / n) * |accuracy - mean confidence|;
    Brier = mean (confidence - hit)^2. Empty input gives zeros."""
    n = len(confidences)
    rows: list[ReliabilityBin] = []
    ece = 0.0
    for b in range(bins):
        low, high = b / bins, (b + 1) / bins
        idx = [i for i, c in enumerate(confidences) if low <= c < high or (b == bins - 1 and c == 1.0)]
        if idx:
            conf = sum(confidences[i] for i in idx) / len(idx)
            acc = sum(bool(hits[i]) for i in idx) / len(idx)
            ece += len(idx) / n * abs(acc - conf)
        else:
            conf = acc = 0.0
        rows.append(ReliabilityBin(low=round(low, 3), high=round(high, 3), n=len(idx), confidence=round(conf, 4), accuracy=round(acc, 4)))
    brier = sum((c - float(bool(h))) ** 2 for c, h in zip(confidences, hits)) / n if n else 0.0
    return Reliability(n=n, brier=round(brier, 4), ece=round(ece, 4), bins=rows)
