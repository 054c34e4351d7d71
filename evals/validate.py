"""`lumos cases validate`: schema and consistency checks of case folders, with file:line errors."""

from __future__ import annotations

from pathlib import Path

from pydantic import BaseModel, Field

from lumos.evals.cases import TRUTH_FILE, CaseRef, load_truth
from lumos.tools.casefiles import CaseFiles
from lumos.tools.errors import InputError


class CaseCheck(BaseModel):
    """Problems found in one case folder."""

    path: str
    errors: list[str] = Field(default_factory=list)
    warnings: list[str] = Field(default_factory=list)

    @property
    def ok(self) -> bool:
        """No errors (warnings allowed)."""
        return not self.errors


def validate_case(ref: CaseRef) -> CaseCheck:
    """Parse every file of a case (collecting all errors) and check truth and times against the data."""
    check = CaseCheck(path=str(ref.path))
    try:
        case = CaseFiles(ref.path)
    except InputError as exc:
        check.errors.append(str(exc))
        return check
    loaded: dict[str, object] = {}
    for name in ("info", "alerts", "logs", "spans", "metrics", "topology", "changes"):
        try:
            loaded[name] = getattr(case, name)
        except InputError as exc:
            check.errors.append(str(exc))
    truth = None
    try:
        truth = load_truth(ref.path)
    except InputError as exc:
        check.errors.append(str(exc))
    if truth is None and (ref.path / TRUTH_FILE).is_file():
        check.warnings.append(f"{ref.path / TRUTH_FILE}: an unfilled template (comments only): the case is replayed but not scored")
    if "info" not in loaded:
        return check
    window = case.info.window
    if not window.start <= case.info.alert_time <= window.end:
        check.errors.append(f"{ref.path / 'case.yaml'}: alert_time: {case.info.alert_time.isoformat()} is outside the window")
    if "alerts" in loaded and not any(window.start <= a.starts_at <= window.end for a in case.alerts):
        check.warnings.append(f"{ref.path / 'alert.json'}: no alert starts inside the case window")
    services = set()
    if "topology" in loaded:
        services |= set(case.topology.service_names())
    if not services:
        services |= {s.service for s in loaded.get("spans", []) or []} | {m.service for m in loaded.get("metrics", []) or []}
    if truth is not None:
        truth_path = ref.path / TRUTH_FILE
        if services and truth.root_cause.service not in services:
            check.errors.append(f"{truth_path}: root_cause.service: {truth.root_cause.service!r} is not a service of the topology")
        if truth.fault_start is not None and not window.start <= truth.fault_start <= window.end:
            check.errors.append(f"{truth_path}: fault_start: {truth.fault_start.isoformat()} is outside the window")
    for name, attr, ts in (("logs.jsonl", "logs", "ts"), ("spans.jsonl", "spans", "start"), ("changes.jsonl", "changes", "ts")):
        records = loaded.get(attr) or []
        outside = sum(1 for r in records if not window.start <= getattr(r, ts) <= window.end)
        if outside and attr != "changes":
            check.warnings.append(f"{ref.path / name}: {outside} record(s) outside the case window")
    return check
