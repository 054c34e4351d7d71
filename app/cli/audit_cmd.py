"""`lumos audit show|verify|anchor`: read, check and anchor the keyed, hash-chained audit trail.

Exit codes of `verify`: 0 every chain intact and keyed; 1 tampering (edited, removed, reordered, rewritten,
truncated or deleted records, or a mismatch with the anchor); 2 usage errors (unknown incident, bad anchor
file); 3 intact but unkeyed legacy records (written before audit keys: anyone could have rewritten them).
"""

from __future__ import annotations

import json
import os
from pathlib import Path
from typing import Optional

import typer
from pydantic import ValidationError
from rich.markup import escape
from rich.table import Table

from lumos.app.cli.errors import fail, user_errors
from lumos.app.cli.render import make_console
from lumos.graph.audit import AuditTrail, VerifyResult
from lumos.graph.audit_chain import INDEX_ID, Anchor
from lumos.graph.audit_keys import load_audit_key
from lumos.tools.settings import Settings

audit_app = typer.Typer(help="Show and verify incident audit trails (append-only, hash-chained).", no_args_is_help=True)
HOME_OPTION = typer.Option(None, "--home", envvar="LUMOS_HOME", help="State folder. Default ~/.lumos.")
LEGACY_EXIT = 3


def open_trail(home: Path | None) -> AuditTrail:
    """The audit trail of the state folder, or the fleet's Postgres trail when LUMOS_DATABASE_URL names one."""
    settings = Settings.from_env(home=home)
    url = os.environ.get("LUMOS_DATABASE_URL", "")
    if url.startswith(("postgresql://", "postgres://")):
        from lumos.graph.audit_postgres import PostgresAuditTrail

        if not settings.audit_key:
            raise fail("LUMOS_DATABASE_URL names a Postgres trail: set LUMOS_AUDIT_KEY to the fleet's audit key")
        return PostgresAuditTrail.connect(url, load_audit_key(settings.state_dir, settings.audit_key))
    if not settings.audit_db.is_file():
        raise fail(f"no audit trail at {settings.audit_db}")
    return AuditTrail(settings.audit_db, load_audit_key(settings.state_dir, settings.audit_key))


def _known(trail: AuditTrail, incident_id: str) -> AuditTrail:
    if not trail.known(incident_id):
        raise fail(f"unknown incident {incident_id!r} in {trail.path or 'the Postgres audit trail'}")
    return trail


@audit_app.command("show")
@user_errors
def show(
    incident_id: str = typer.Argument(..., help="Incident id."),
    as_json: bool = typer.Option(False, "--json", help="Print the records as JSON lines."),
    home: Optional[Path] = HOME_OPTION,
) -> None:
    """List every audit record of an incident in chain order."""
    events = _known(open_trail(home), incident_id).events(incident_id)
    if as_json:
        for event in events:
            typer.echo(event.model_dump_json())
        return
    table = Table(title=f"Audit trail of {escape(incident_id)}")
    for col in ("seq", "time", "kind", "actor", "data", "hash"):
        table.add_column(col)
    for e in events:
        data = json.dumps(e.data, separators=(",", ":"))
        table.add_row(str(e.seq), e.ts.strftime("%H:%M:%S"), escape(e.kind), escape(e.actor),
                      escape(data[:90] + ("…" if len(data) > 90 else "")), e.hash[:12])
    make_console().print(table)


def _load_anchor(path: Path) -> Anchor:
    try:
        return Anchor.model_validate_json(path.read_text(encoding="utf-8"))
    except OSError as exc:
        raise fail(f"--anchor {path}: cannot read it: {exc.strerror or exc}") from None
    except ValidationError as exc:
        error = exc.errors()[0]
        where = ".".join(str(p) for p in error.get("loc", ())) or "file"
        raise fail(f"--anchor {path}: not a LUMOS audit anchor ({where}: {error.get('msg')}); make one with `lumos audit anchor`") from None


def _report(result: VerifyResult) -> None:
    name = "incident index" if result.incident_id == INDEX_ID else result.incident_id
    if result.problems:
        typer.echo(f"FAILED: {name}: {len(result.problems)} problem(s)")
        for problem in result.problems:
            typer.echo(f"  {problem}")
    elif result.legacy:
        typer.echo(f"UNKEYED: {name}: {result.legacy} of {result.records} records are a legacy sha256 chain written before audit "
                   "keys: intact, but anyone with write access could have rewritten them")


@audit_app.command("verify")
@user_errors
def verify(
    incident_id: Optional[str] = typer.Argument(None, help="Incident id; without it, every chain (and the incident index)."),
    anchor: Optional[Path] = typer.Option(None, "--anchor", help="An anchor file from `lumos audit anchor`: also catch records "
                                          "truncated, rewritten or deleted since it was made."),
    home: Optional[Path] = HOME_OPTION,
) -> None:
    """Recompute the keyed hash chains. Exit 0 intact, 1 tampered, 2 usage error, 3 intact but unkeyed (legacy) records.

    A deleted incident is tampering: the incident index records every incident's opening.
    """
    trail = open_trail(home)
    loaded = _load_anchor(anchor) if anchor is not None else None
    results = [_known(trail, incident_id).verify(incident_id)] if incident_id else trail.verify_all()
    for result in results:
        _report(result)
    anchor_problems: list[str] = []
    if loaded is not None:
        anchor_problems = trail.check_anchor(loaded)
        if incident_id:
            anchor_problems = [p for p in anchor_problems if p.startswith("anchor:") or p.startswith(f"incident {incident_id}:")]
        for problem in anchor_problems:
            typer.echo(f"FAILED: {problem}")
    records = sum(r.records for r in results if r.incident_id != INDEX_ID)
    if any(r.problems for r in results) or anchor_problems:
        raise typer.Exit(1)
    if any(r.legacy for r in results):
        raise typer.Exit(LEGACY_EXIT)
    what = f"{records} records" if incident_id else f"{sum(r.incident_id != INDEX_ID for r in results)} incidents, {records} records"
    since = f"; matches the anchor of {loaded.created_at}" if loaded is not None else ""
    typer.echo(f"ok: {what}, hash chain intact (keyed, {trail.key.key_id}){since}")


@audit_app.command("anchor")
@user_errors
def anchor_command(
    out: Optional[Path] = typer.Option(None, "--out", help="Write the anchor to this file instead of stdout."),
    home: Optional[Path] = HOME_OPTION,
) -> None:
    """Print an anchor of the whole trail (root hash, record count, time, every chain head) to publish elsewhere.

    Keep it where the people the trail holds to account cannot change it (a ticket, a git repository, WORM
    storage); `lumos audit verify --anchor FILE` then catches any later truncation, rewrite or deletion.
    """
    trail = open_trail(home)
    broken = [r for r in trail.verify_all() if r.problems]
    if broken:
        names = ", ".join(r.incident_id for r in broken[:5]) + (" ..." if len(broken) > 5 else "")
        raise fail(f"refusing to anchor a trail that does not verify ({len(broken)} chain(s): {names}); see `lumos audit verify`", code=1)
    made = trail.anchor()
    text = made.model_dump_json(indent=2)
    if out is not None:
        tmp = out.with_name(out.name + ".tmp")
        tmp.write_text(text + "\n", encoding="utf-8")
        tmp.replace(out)
    else:
        typer.echo(text)
    typer.echo(f"anchored {made.incidents} incidents, {made.records} records; root {made.root} at {made.created_at} "
               f"(key {made.key_id}){f'; written to {out}' if out else ''}. Publish it outside this machine.", err=True)
