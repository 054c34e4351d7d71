"""`lumos cases record`: copy a live incident's collected data into a case folder with a truth.yaml template."""

from __future__ import annotations

import shutil
from pathlib import Path

from lumos.app.session import Session
from lumos.graph.live import snapshot_dir
from lumos.tools.casefiles import CASE_FILE, OBSERVABLE_FILES, CaseFiles
from lumos.tools.errors import InputError, NotFoundError
from lumos.tools.live.collect import STATUS_FILE

TRUTH_TEMPLATE = """\
# Ground truth of incident {incident}: fill it in (and remove the leading '# ') to score this case.
# LUMOS ranked (live): {ranking}
# root_cause:
#   service: {top_service}          # where the fault really was
#   fault_type: {top_fault}         # one of: cpu_saturation, memory_pressure, network_delay, network_loss,
#                                   #   error_injection, bad_response, config_change, bad_deploy,
#                                   #   dependency_outage, resource_exhaustion, crash_loop
# fault_start: "{fault_start}"
# accepted_runbooks: []
# forbidden_actions: []
"""


def record_incident(incident_id: str, out: Path, *, home: Path | None = None) -> Path:
    """Write the case folder `out` for a live incident; returns it. Errors: unknown or non-live incident, `out` exists."""
    session = Session.open(home)
    source = snapshot_dir(session.settings.state_dir, incident_id)
    if not session.runner.exists(incident_id):
        raise NotFoundError(f"no incident {incident_id!r} in {session.settings.state_dir}")
    if not (source / CASE_FILE).is_file():
        raise InputError(f"incident {incident_id} is not a live incident (no collected data in {source})")
    if out.exists():
        raise InputError("already exists; give a new folder", path=out)
    hypotheses = session.runner.outcome(incident_id).hypotheses
    out.parent.mkdir(parents=True, exist_ok=True)
    tmp = out.with_name(f".{out.name}.tmp")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir()
    for name in (CASE_FILE, *OBSERVABLE_FILES, STATUS_FILE):
        if (source / name).is_file():
            shutil.copy2(source / name, tmp / name)
    top = hypotheses[0] if hypotheses else None
    alert_time = CaseFiles(source).info.alert_time.isoformat().replace("+00:00", "Z")
    (tmp / "truth.yaml").write_text(TRUTH_TEMPLATE.format(
        incident=incident_id, ranking=", ".join(f"{h.service} ({h.fault_type}, {h.confidence:.2f})" for h in hypotheses[:5]) or "nothing",
        top_service=top.service if top else "SERVICE", top_fault=top.fault_type if top else "FAULT_TYPE", fault_start=alert_time),
        encoding="utf-8")
    tmp.rename(out)
    return out
