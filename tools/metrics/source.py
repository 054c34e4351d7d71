"""Metric sources: where samples come from. The embedded default reads a long-format metrics.csv.

A source answers one question, "samples of these series in this window", so that a Prometheus
HTTP source can later stand in for the file without the analyzers noticing.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from pathlib import Path
from typing import Protocol

from lumos.tools.casefiles import iter_metrics_csv
from lumos.tools.domain import MetricSample, TimeWindow


class MetricSource(Protocol):
    """Anything that can return metric samples for a time window."""

    def samples(self, window: TimeWindow, *, services: Sequence[str] | None = None, metrics: Sequence[str] | None = None) -> list[MetricSample]:
        """Samples with ts in `window`, optionally only for some services and metric names."""
        ...


def _select(samples: Iterable[MetricSample], window: TimeWindow, services: Sequence[str] | None, metrics: Sequence[str] | None) -> list[MetricSample]:
    want_s = set(services or [])
    want_m = set(metrics or [])
    return [
        s
        for s in samples
        if window.contains(s.ts) and (not want_s or s.service in want_s) and (not want_m or s.metric in want_m)
    ]


class CsvMetricSource:
    """metrics.csv (`ts,service,instance,metric,value`), parsed once on first use; a missing file is empty."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self._cache: list[MetricSample] | None = None

    def _all(self) -> list[MetricSample]:
        if self._cache is None:
            self._cache = sorted(iter_metrics_csv(self.path), key=lambda s: s.ts) if self.path.is_file() else []
        return self._cache

    def samples(self, window: TimeWindow, *, services: Sequence[str] | None = None, metrics: Sequence[str] | None = None) -> list[MetricSample]:
        """Samples with ts in `window`, optionally only for some services and metric names."""
        return _select(self._all(), window, services, metrics)


class MemoryMetricSource:
    """Samples already in memory (tests, replay): the same interface as the file source."""

    def __init__(self, samples: Iterable[MetricSample]):
        self._samples = sorted(samples, key=lambda s: s.ts)

    def samples(self, window: TimeWindow, *, services: Sequence[str] | None = None, metrics: Sequence[str] | None = None) -> list[MetricSample]:
        """Samples with ts in `window`, optionally only for some services and metric names."""
        return _select(self._samples, window, services, metrics)
