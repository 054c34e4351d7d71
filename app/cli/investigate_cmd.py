"""`lumos investigate`: one incident against the live sources of lumos.yaml (the CLI twin of `lumos serve --config`)."""

from __future__ import annotations

import json
import re
import time
from pathlib import Path
from typing import Any, Optional

import typer
from pydantic import ValidationError
from rich.markup import escape

from lumos.app.cli.errors import fail, user_errors
from lumos.app.cli.incident_cmds import APPROVER_OPTION, HOME_OPTION, ROLE_OPTION, YES_OPTION, _approver, finish, make_decider
from lumos.app.cli.render import hypotheses_table, make_console, progress_printer
from lumos.graph.runner import IncidentOutcome, new_incident_id
from lumos.tools.domain import Alert, AlertmanagerPayload
from lumos.tools.errors import InputError
from lumos.tools.live.config import CONFIG_ENV, config_path, load_config

FAILED = re.compile(r"source \S+ failed")
from lumos.tools.validation import describe_validation_error


def read_alert(path: Path) -> Alert:
    """The first firing alert of an Alertmanager v4 payload or a generic `{"version": "1", "alerts": [...]}` file."""
    from lumos.app.server.payloads import GenericPayload, from_generic

    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise InputError(f"invalid JSON: {exc}", path=path, line=getattr(exc, "lineno", None)) from None
    if not isinstance(data, dict):
        raise InputError("expected an Alertmanager v4 payload or a generic alert payload (a JSON object)", path=path)
    try:
        if str(data.get("version")) == "1":
            alerts = from_generic(GenericPayload.model_validate(data))
        else:
            alerts = Alert.from_alertmanager(AlertmanagerPayload.model_validate(data))
    except ValidationError as exc:
        field, message = describe_validation_error(exc)
        raise InputError(f"expected an Alertmanager v4 payload or a generic alert payload: {message}", path=path, field=field) from None
    firing = [a for a in alerts if a.status == "firing"]
    return (firing or alerts)[0]


def outcome_json(outcome: IncidentOutcome) -> dict[str, Any]:
    """The machine-readable result of an investigation."""
    return {
        "incident_id": outcome.incident_id,
        "status": outcome.status,
        "sources": [n for n in outcome.notes if n.startswith("source ")],
        "hypotheses": [{"service": h.service, "fault_type": str(h.fault_type), "confidence": round(h.confidence, 4),
                        "evidence": [e.model_dump(mode="json") for e in h.evidence[:8]]} for h in outcome.hypotheses],
        "runbook": outcome.runbook.model_dump(mode="json") if outcome.runbook else None,
        "plan": [s.model_dump(mode="json") for s in outcome.plan],
        "results": [r.model_dump(mode="json") for r in outcome.results],
        "pending": outcome.pending,
        "escalation": outcome.escalation,
        "notes": outcome.notes,
    }


def register(app: typer.Typer) -> None:
    """Add `lumos investigate` to the CLI."""

    @app.command("investigate")
    @user_errors
    def investigate(
        alert: Path = typer.Option(..., "--alert", help="alert.json: an Alertmanager v4 payload or a generic {version: 1, alerts: [...]}."),
        config: Optional[Path] = typer.Option(None, "--config", help=f"lumos.yaml (default ${CONFIG_ENV})."),
        as_json: bool = typer.Option(False, "--json", help="Print the result as JSON (no prompts: gates wait unless --yes)."),
        yes: bool = YES_OPTION,
        home: Optional[Path] = HOME_OPTION,
        approver: Optional[str] = APPROVER_OPTION,
        role: Optional[str] = ROLE_OPTION,
    ) -> None:
        """Investigate one alert against the live sources of lumos.yaml: same graph, gates and audit trail as `lumos run`.

        Metrics, logs, spans, topology and changes are read once for the alert's window (a baseline
        before the onset and the incident window, from startsAt); a source that fails is named in the
        console, the report and the audit trail, and the others are used. Actions follow the
        configuration (dry_run: "would run ..."). Record the incident as a case afterwards with
        `lumos cases record --incident ID --out DIR`.
        """
        path = config_path(config)
        if path is None:
            raise fail(f"give --config lumos.yaml (or set {CONFIG_ENV}); write one with: lumos config example > lumos.yaml")
        stack = load_config(path)
        the_alert = read_alert(alert)
        from lumos.app.session import Session

        console = make_console(quiet=as_json)
        session = Session.open(home or stack.server.home, config=path)
        t0 = time.perf_counter()
        incident_id = new_incident_id()
        console.print(f"[bold]LUMOS[/] live investigation {incident_id}: [bold]{the_alert.name}[/] ({the_alert.severity}) on "
                      f"{the_alert.service or 'no service'}", highlight=False)
        outcome = session.runner.start(the_alert, {"kind": "live"}, incident_id=incident_id, progress=progress_printer(console))
        for note in outcome.notes:
            if note.startswith("source "):
                console.print(f"  [red]{escape(note)}[/]" if FAILED.match(note) else f"  {escape(note)}", highlight=False)
        console.print(hypotheses_table(outcome))
        if outcome.runbook:
            console.print(f"Runbook: [bold]{outcome.runbook.runbook_id}[/] — {outcome.runbook.title} ({outcome.runbook.reason})")
        if yes or not as_json:  # in JSON mode without --yes a gate waits for `lumos resume`
            decide = make_decider(console, yes=yes, approver=_approver(approver), role=role)
            outcome = session.runner.drive(outcome, decide, progress=progress_printer(console))
        console.print(f"({time.perf_counter() - t0:.1f} s)")
        if not as_json:
            finish(console, session, outcome)
            return
        from lumos.app.report import write_report

        report = write_report(session.settings.reports_dir, outcome, session.resources.audit.verify(outcome.incident_id))
        typer.echo(json.dumps({**outcome_json(outcome), "report": str(report)}, indent=1, default=str))
        if outcome.status == "escalated":
            raise typer.Exit(1)
