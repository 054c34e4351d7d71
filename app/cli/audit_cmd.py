"""`lumos audit show|verify ID`: read and check an incident's hash-chained audit trail."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from lumos.app.cli.render import make_console
from lumos.app.cli.errors import fail, user_errors
from lumos.graph.audit import AuditTrail
from lumos.tools.settings import Settings

audit_app = typer.Typer(help="Show and verify incident audit trails (append-only, hash-chained).", no_args_is_help=True)
HOME_OPTION = typer.Option(None, "--home", envvar="LUMOS_HOME", help="State folder. Default ~/.lumos.")


def _trail(home: Path | None, incident_id: str) -> AuditTrail:
    settings = Settings.from_env(home=home)
    if not settings.audit_db.is_file():
        raise fail(f"no audit trail at {settings.audit_db}")
    trail = AuditTrail(settings.audit_db)
    if not trail.exists(incident_id):
        raise fail(f"unknown incident {incident_id!r} in {settings.audit_db}")
    return trail


@audit_app.command("show")
@user_errors
def show(
    incident_id: str = typer.Argument(..., help="Incident id."),
    as_json: bool = typer.Option(False, "--json", help="Print the records as JSON lines."),
    home: Optional[Path] = HOME_OPTION,
) -> None:
    """List every audit record of an incident in chain order."""
    events = _trail(home, incident_id).events(incident_id)
    if as_json:
        for event in events:
            typer.echo(event.model_dump_json())
        return
    table = Table(title=f"Audit trail of {incident_id}")
    for col in ("seq", "time", "kind", "actor", "data", "hash"):
        table.add_column(col)
    for e in events:
        data = json.dumps(e.data, separators=(",", ":"))
        table.add_row(str(e.seq), e.ts.strftime("%H:%M:%S"), e.kind, e.actor, data[:90] + ("…" if len(data) > 90 else ""), e.hash[:12])
    make_console().print(table)


@audit_app.command("verify")
@user_errors
def verify(incident_id: str = typer.Argument(..., help="Incident id."), home: Optional[Path] = HOME_OPTION) -> None:
    """Recompute the hash chain; exit 1 if any record was edited, removed or reordered."""
    result = _trail(home, incident_id).verify(incident_id)
    if result.ok:
        typer.echo(f"ok: {result.records} records, hash chain intact")
        return
    typer.echo(f"FAILED: {incident_id}: {len(result.problems)} problem(s)")
    for problem in result.problems:
        typer.echo(f"  {problem}")
    raise typer.Exit(1)
