"""The log analysis agent's offline analyzer (placeholder while the full analyzer lands)."""

from __future__ import annotations

from collections.abc import Sequence

from lumos.tools.domain import LogRecord, LogReport, TriageReport


def analyze_logs(records: Sequence[LogRecord], triage: TriageReport, *, max_evidence_per_service: int = 5) -> LogReport:
    """Compare the incident window with the baseline window (placeholder: reports nothing yet)."""
    return LogReport(lines_read=len(records), notes=["log analyzer not implemented yet"])
