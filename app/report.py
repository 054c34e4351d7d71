"""Markdown incident reports written next to the audit trail."""

from __future__ import annotations

from pathlib import Path

from lumos.graph.audit import VerifyResult
from lumos.graph.runner import IncidentOutcome


def render_markdown(outcome: IncidentOutcome, verify: VerifyResult | None = None) -> str:
    """A self-contained incident report: outcome, hypotheses with evidence, plan, actions, approvals."""
    out = [f"# Incident {outcome.incident_id}", "", f"**Status:** {outcome.status}", ""]
    if outcome.escalation:
        out += [f"**Escalation:** {outcome.escalation}", ""]
    out += ["## Root-cause hypotheses", ""]
    for rank, hyp in enumerate(outcome.hypotheses[:5], start=1):
        out.append(f"{rank}. **{hyp.service}** — {hyp.fault_type} (confidence {hyp.confidence:.2f})")
        for ev in hyp.evidence[:5]:
            ref = f" `{ev.ref}`" if ev.ref else ""
            out.append(f"   - [{ev.source}] {ev.summary}{ref}")
    if outcome.runbook:
        out += ["", "## Runbook", "", f"{outcome.runbook.runbook_id}: {outcome.runbook.title} — {outcome.runbook.reason}"]
    if outcome.plan:
        out += ["", "## Plan and actions", "", "| step | action | destructive | result |", "|---:|---|---|---|"]
        results = {r.step_index: r for r in outcome.results}
        for step in outcome.plan:
            result = results.get(step.index)
            out.append(f"| {step.index} | {step.action} | {step.destructive} | {result.status if result else '-'} |")
    if outcome.approvals:
        out += ["", "## Approvals", ""]
        for a in outcome.approvals:
            out.append(f"- step {a.step_index}: **{a.decision}** by {a.approver} at {a.decided_at.isoformat()} {a.comment}")
    if outcome.notes:
        out += ["", "## Notes", ""] + [f"- {n}" for n in outcome.notes]
    if verify is not None:
        state = "verified" if verify.ok else "FAILED: " + "; ".join(verify.problems)
        out += ["", "## Audit trail", "", f"{verify.records} records, hash chain {state}"]
    return "\n".join(out) + "\n"


def write_report(directory: Path, outcome: IncidentOutcome, verify: VerifyResult | None = None) -> Path:
    """Write `<incident>.md` into `directory` atomically and return its path."""
    directory.mkdir(parents=True, exist_ok=True)
    path = directory / f"{outcome.incident_id}.md"
    tmp = path.with_suffix(".md.tmp")
    tmp.write_text(render_markdown(outcome, verify), encoding="utf-8")
    tmp.replace(path)
    return path
