"""The demo case's data and offline reports, for driving agent loops directly in tests."""

from __future__ import annotations

from dataclasses import dataclass

from lumos.agents.coordinator import triage
from lumos.agents.dependency_mapper import map_dependencies
from lumos.agents.log_analyst import analyze_logs
from lumos.tools.casefiles import CaseFiles
from lumos.tools.domain import DependencyReport, LogReport, TriageReport
from lumos.tools.settings import Settings
from tests.conftest import DEMO_CASE


@dataclass
class DemoIncident:
    """Case files plus the offline triage, log and dependency reports of the demo incident."""

    case: CaseFiles
    triage: TriageReport
    log_report: LogReport
    dependency_report: DependencyReport

    @classmethod
    def load(cls) -> "DemoIncident":
        case = CaseFiles(DEMO_CASE).load_all()
        report = triage(case.alert, case.topology, data_window=case.window())
        return cls(case, report, analyze_logs(case.logs, report),
                   map_dependencies(topology=case.topology, spans=case.spans, metrics=case.metrics, changes=case.changes, triage=report))

    def log_kwargs(self) -> dict:
        return dict(incident_id="inc-test", alert=self.case.alert, records=self.case.logs, triage=self.triage,
                    offline=self.log_report, services=self.case.topology.service_names())


def fast_settings(**overrides: object) -> Settings:
    """Settings with tight loop bounds and no backoff delay, for tests."""
    values = {"mode": "llm", "llm_timeout_s": 5.0, "llm_backoff_s": 0.0, "llm_max_iterations": 6}
    values.update(overrides)
    return Settings.from_env({}, **values)
