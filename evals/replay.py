"""Replay a recorded case as a live incident: data served from the case's files, actions on a
simulated world seeded with the case's fault."""

from __future__ import annotations

from pathlib import Path

from lumos.evals.cases import load_truth
from lumos.graph.runner import IncidentOutcome, IncidentRunner, ProgressHook, new_incident_id
from lumos.graph.state import SourceSpec
from lumos.tools.actions.simenv import SimulatedEnvironment
from lumos.tools.casefiles import CaseFiles, open_case
from lumos.tools.domain import GroundTruth
from lumos.tools.topology.derive import with_services


def seed_world(simenv_db: Path, incident_id: str, case: CaseFiles, truth: GroundTruth | None) -> None:
    """Create the simulated world the incident's actions act on, with the case's fault injected."""
    env = SimulatedEnvironment.open(simenv_db, incident_id)
    versions = {}
    for change in case.changes:
        if change.kind == "deploy" and change.version and change.ts <= case.alert.starts_at:
            versions[change.service] = (change.version, change.previous_version)
    faults = [(truth.root_cause.service, truth.root_cause.fault_type)] if truth else []
    # The faulty service may never show up in the data (no catalog, no telemetry of its own).
    world = with_services(case.topology, [truth.root_cause.service] if truth else [])
    env.seed(world, faults=faults, versions=versions)


def case_sources(case_dir: Path) -> SourceSpec:
    """The source spec that serves a case folder's files."""
    return {"kind": "case", "path": str(Path(case_dir).resolve())}


def start_case_incident(
    runner: IncidentRunner,
    simenv_db: Path,
    case_dir: Path,
    *,
    incident_id: str | None = None,
    progress: ProgressHook | None = None,
) -> tuple[CaseFiles, IncidentOutcome]:
    """Validate a case, seed its simulated world and run its incident up to the first gate."""
    case = open_case(case_dir).load_all()
    truth = load_truth(Path(case_dir))
    incident_id = incident_id or new_incident_id("inc")
    seed_world(simenv_db, incident_id, case, truth)
    outcome = runner.start(case.alert, case_sources(case_dir), incident_id=incident_id, progress=progress)
    return case, outcome
