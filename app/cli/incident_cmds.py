"""`lumos demo`, `lumos run` and `lumos resume`: run incidents from a terminal or a script."""

from __future__ import annotations

import getpass
import sys
import time
from pathlib import Path
from typing import Any, Optional

import typer
from rich.console import Console
from rich.markup import escape
from rich.prompt import Confirm

from lumos.app.cli.errors import fail, user_errors
from lumos.app.cli.render import make_console, approval_panel, hypotheses_table, plan_table, progress_printer
from lumos.app.report import write_report
from lumos.app.session import Session
from lumos.evals.cases import demo_case_dir
from lumos.evals.replay import start_case_incident
from lumos.graph.gate import GateMismatch, bind
from lumos.graph.runner import Decider, IncidentOutcome

HOME_OPTION = typer.Option(None, "--home", envvar="LUMOS_HOME", help="State folder (checkpoints, audit, reports). Default ~/.lumos.")
YES_OPTION = typer.Option(False, "--yes", "-y", help="Approve every destructive step without asking (recorded as approved by you).")
APPROVER_OPTION = typer.Option(None, "--approver", help="Name recorded as the approver. Default: cli:<login>.")
ROLE_OPTION = typer.Option(None, "--role", help="Your approver group (e.g. dba) when the incident's workflow requires one.")


def _approver(name: str | None) -> str:
    if name:
        return name
    try:
        return f"cli:{getpass.getuser()}"
    except Exception:  # no login name in some containers
        return "cli:unknown"


def _interactive() -> bool:
    return sys.stdin.isatty() and sys.stdout.isatty()


def make_decider(console: Console, *, yes: bool, approver: str, role: str | None = None) -> Decider:
    """Approve with --yes, ask on a terminal, otherwise stop at the gate (return None)."""

    def decide(request: dict[str, Any]) -> dict[str, Any] | None:
        answer = _decide(request)
        if answer is not None and role:
            answer["role"] = role
        return answer

    def _decide(request: dict[str, Any]) -> dict[str, Any] | None:
        console.print(approval_panel(request))
        if yes:
            console.print(f"  [green]approved[/] by {escape(approver)} (--yes)")
            return {"decision": "approve", "approver": approver, "comment": "approved with --yes"}
        if not _interactive():
            return None
        if Confirm.ask("  Run this step?", console=console, default=False):
            return {"decision": "approve", "approver": approver, "comment": "approved at the terminal"}
        return {"decision": "reject", "approver": approver, "comment": "rejected at the terminal"}

    return decide


def finish(console: Console, session: Session, outcome: IncidentOutcome) -> None:
    """Print the outcome, write the report, and exit 0 (resolved/waiting) or 1 (escalated)."""
    if outcome.plan:
        console.print(plan_table(outcome))
    verify = session.resources.audit.verify(outcome.incident_id)
    report = write_report(session.settings.reports_dir, outcome, verify)
    if outcome.waiting:
        step = outcome.pending or {}
        console.print(
            f"\n[bold yellow]Waiting for approval[/] of step {step.get('step_index')} ({escape(str(step.get('action')))}). Resume with:\n"
            f"  lumos resume {outcome.incident_id} --gate {step.get('gate_id')} --approve   (or --reject)",
            highlight=False,
        )
    elif outcome.status == "resolved":
        console.print(f"\n[bold green]Incident {outcome.incident_id} resolved.[/]")
    else:
        console.print(f"\n[bold red]Incident {outcome.incident_id} escalated:[/] {escape(str(outcome.escalation))}", highlight=False)
    if outcome.summary:
        console.print(outcome.summary, markup=False, highlight=False)
    console.print(f"Audit trail: {session.settings.audit_db} ({verify.records} records, {'chain verified' if verify.ok else 'CHAIN BROKEN'})")
    console.print(f"  lumos audit show {outcome.incident_id}")
    console.print(f"Report: {report}")
    if outcome.status == "escalated":
        raise typer.Exit(1)


def run_case(case_dir: Path, *, home: Path | None, yes: bool, approver: str | None, role: str | None = None) -> None:
    """Replay one case folder as an incident with progress, approvals and a summary."""
    console = make_console()
    session = Session.open(home)
    t0 = time.perf_counter()
    console.print(f"[bold]LUMOS[/] incident from case [cyan]{escape(str(case_dir))}[/]")
    case, outcome = start_case_incident(
        session.runner, session.settings.simenv_db, case_dir, progress=progress_printer(console)
    )
    alert = case.alert
    console.print(f"Alert: [bold]{escape(alert.name)}[/] ({escape(alert.severity)}) on {escape(str(alert.service))}: {escape(alert.summary)}",
                  highlight=False)
    console.print(hypotheses_table(outcome))
    if outcome.runbook:
        console.print(f"Runbook: [bold]{escape(outcome.runbook.runbook_id)}[/] — {escape(outcome.runbook.title)} ({escape(outcome.runbook.reason)})",
                      highlight=False)
    decide = make_decider(console, yes=yes, approver=_approver(approver), role=role)
    outcome = session.runner.drive(outcome, decide, progress=progress_printer(console))
    console.print(f"({time.perf_counter() - t0:.1f} s)")
    finish(console, session, outcome)


def register(app: typer.Typer) -> None:
    """Add the incident commands to the main app."""

    @app.command()
    @user_errors
    def demo(
        yes: bool = YES_OPTION,
        home: Optional[Path] = HOME_OPTION,
        approver: Optional[str] = APPROVER_OPTION,
        role: Optional[str] = ROLE_OPTION,
    ) -> None:
        """Run the bundled demo: a bad deploy breaks checkout in an 8-service shop.

        LUMOS diagnoses it offline, picks a runbook, asks before each destructive step
        (--yes approves), remediates in a simulated environment, verifies and prints where
        the audit trail and report are. Without a terminal and without --yes it stops at
        the first gate and prints the command to resume.
        """
        run_case(demo_case_dir(), home=home, yes=yes, approver=approver, role=role)

    @app.command()
    @user_errors
    def run(
        case: Path = typer.Option(..., "--case", help="A case folder (case.yaml, alert.json, logs.jsonl, ...)."),
        yes: bool = YES_OPTION,
        home: Optional[Path] = HOME_OPTION,
        approver: Optional[str] = APPROVER_OPTION,
        role: Optional[str] = ROLE_OPTION,
    ) -> None:
        """Run any recorded case folder as an incident (same flow as `lumos demo`)."""
        run_case(case, home=home, yes=yes, approver=approver, role=role)

    @app.command()
    @user_errors
    def resume(
        incident_id: str = typer.Argument(..., help="The incident id printed when it stopped at a gate."),
        approve: bool = typer.Option(False, "--approve", help="Approve the pending step."),
        reject: bool = typer.Option(False, "--reject", help="Reject the pending step (the incident escalates)."),
        gate: Optional[str] = typer.Option(None, "--gate", help="The gate id you were shown (g-...): the decision counts only "
                                           "for that gate. Without it, the gate pending now (printed before deciding)."),
        comment: str = typer.Option("", "--comment", help="Recorded in the audit trail with your decision."),
        yes: bool = YES_OPTION,
        home: Optional[Path] = HOME_OPTION,
        approver: Optional[str] = APPROVER_OPTION,
        role: Optional[str] = ROLE_OPTION,
    ) -> None:
        """Answer the pending approval of a paused incident and continue it (in this new process).

        The decision is bound to one gate (its id, step, action and params hash); if the incident has moved on to
        another gate, nothing runs and the command exits 1 showing what is pending now.
        """
        if approve == reject:
            raise fail("give exactly one of --approve and --reject")
        console = make_console()
        session = Session.open(home)
        if not session.runner.exists(incident_id):
            raise fail(f"unknown incident {incident_id!r} (state folder {session.settings.state_dir})")
        current = session.runner.outcome(incident_id)
        if not current.waiting:
            raise fail(f"incident {incident_id} is not waiting for an approval (status: {current.status})")
        request = current.pending or {}
        if gate is not None and gate != request.get("gate_id"):
            console.print(approval_panel(request))
            raise fail(f"incident {incident_id} is waiting at gate {request.get('gate_id')} (step {request.get('step_index')}), "
                       f"not {gate}; nothing was run", code=1)
        name = _approver(approver)
        decision = {"decision": "approve" if approve else "reject", "approver": name, "comment": comment}
        if role:
            decision["role"] = role
        console.print(approval_panel(request))
        console.print(f"  [bold]{decision['decision']}d[/] by {escape(name)}")
        try:
            outcome = session.runner.resume(incident_id, bind(request, decision), progress=progress_printer(console))
        except GateMismatch as exc:
            raise fail(str(exc), code=1) from None
        outcome = session.runner.drive(outcome, make_decider(console, yes=yes, approver=name, role=role), progress=progress_printer(console))
        finish(console, session, outcome)
