"""Open an incident's data sources from the serialisable spec kept in state."""

from __future__ import annotations

from lumos.graph.state import SourceSpec
from lumos.tools.casefiles import CaseFiles, open_case
from lumos.tools.domain import Change, LogRecord, MetricSample, Span, TimeWindow, Topology


class NoSources:
    """No observability data configured: every source answers 'nothing for this incident'."""

    logs: list[LogRecord] = []
    spans: list[Span] = []
    metrics: list[MetricSample] = []
    changes: list[Change] = []
    topology = Topology()

    def window(self) -> TimeWindow | None:
        """No recorded range: the triage default applies."""
        return None


def open_sources(spec: SourceSpec | None) -> CaseFiles | NoSources:
    """The data sources named by `spec`: a case folder (the embedded default), or the folder a live
    incident's data was collected into at intake (`lumos.graph.live`); before that, nothing."""
    if spec and spec.get("kind") in ("case", "live") and spec.get("path"):
        return open_case(spec["path"])
    return NoSources()
