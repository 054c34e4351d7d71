"""Rich rendering of incidents for the terminal."""

from __future__ import annotations

from typing import Any

from rich.console import Console
from rich.markup import escape
from rich.table import Table

from lumos.graph.runner import IncidentOutcome

PHASES = {
    "intake": "Incident opened",
    "triage": "Triage: windows and focus services",
    "log_analysis": "Log analysis agent done",
    "dependency_mapping": "Dependency mapping agent done",
    "correlate": "Root-cause hypotheses ranked",
    "select_runbook": "Runbook selected",
    "plan": "Plan ready",
    "approval_gate": "Approval recorded",
    "execute_step": "Step executed",
    "verify": "Step verified",
    "rollback": "Rolled back",
    "escalate": "Escalated to a human",
    "resolve": "Post-checks done",
}


def make_console(**kwargs: Any) -> Console:
    """A console that is wide enough for tables when output goes to a file or pipe."""
    import sys

    return Console(width=None if sys.stdout.isatty() else 160, **kwargs)


def progress_printer(console: Console):
    """A progress hook that prints one line per finished graph node."""

    def hook(node: str) -> None:
        if node in PHASES and node != "next_step":
            console.print(f"  [green]✓[/] {PHASES[node]}", highlight=False)

    return hook


def hypotheses_table(outcome: IncidentOutcome, *, limit: int = 5, evidence: int = 3) -> Table:
    """Ranked hypotheses with their top evidence lines."""
    table = Table(title="Root-cause hypotheses", show_lines=True)
    table.add_column("#", justify="right")
    table.add_column("service")
    table.add_column("fault type")
    table.add_column("confidence", justify="right")
    table.add_column("evidence")
    for rank, hyp in enumerate(outcome.hypotheses[:limit], start=1):
        lines = [escape(f"[{e.source}] {e.summary}") for e in hyp.evidence[:evidence]]
        table.add_row(str(rank), escape(hyp.service), str(hyp.fault_type), f"{hyp.confidence:.2f}", "\n".join(lines) or "-")
    return table


def plan_table(outcome: IncidentOutcome) -> Table:
    """The planned runbook steps, their risk and what happened to each."""
    title = escape(f"Plan: {outcome.runbook.runbook_id} ({outcome.runbook.title})") if outcome.runbook else "Plan"
    table = Table(title=title)
    table.add_column("step", justify="right")
    table.add_column("action")
    table.add_column("params")
    table.add_column("risk")
    table.add_column("result")
    results = {r.step_index: r for r in outcome.results}
    for step in outcome.plan:
        risk = "[red]destructive, needs approval[/]" if step.requires_approval else "safe"
        result = results.get(step.index)
        table.add_row(
            str(step.index), escape(step.action), escape(", ".join(f"{k}={v}" for k, v in step.params.items())), risk,
            result.status if result else "-",
        )
    return table


def approval_panel(request: dict[str, Any]) -> str:
    """The text shown before asking for an approval (untrusted values escaped: it is printed as Rich markup)."""
    hyp = request.get("hypothesis") or {}
    params = escape(", ".join(f"{k}={v}" for k, v in (request.get("params") or {}).items()))
    what = "rollback of step" if request.get("kind") == "rollback" else "step"
    lines = [
        f"[bold yellow]Approval needed[/] for {what} {request.get('step_index')}: [bold]{escape(str(request.get('action')))}[/]({params})",
        f"  runbook: {escape(str(request.get('runbook')))}   destructive: {request.get('destructive')}",
    ]
    rollback = request.get("rollback")
    if isinstance(rollback, dict):
        undo = escape(", ".join(f"{k}={v}" for k, v in (rollback.get("params") or {}).items()))
        lines.append(f"  if it fails: {escape(str(rollback.get('action')))}({undo}) (covered by this approval)")
    if hyp:
        lines.append(escape(f"  because: {hyp.get('service')} looks like {hyp.get('fault_type')} (confidence {hyp.get('confidence')})"))
    for line in request.get("evidence", [])[:3]:
        lines.append(escape(f"    - {line}"))
    if request.get("blast_radius"):
        lines.append(escape(f"  blast radius: {', '.join(request['blast_radius'][:8])}"))
    lines.append(f"  gate: {escape(str(request.get('gate_id')))} (params sha256 {escape(str(request.get('params_hash', ''))[:12])}…)")
    return "\n".join(lines)
