"""`lumos cases validate|generate`: check recorded cases and make synthetic ones."""

from __future__ import annotations

from pathlib import Path

import typer
from rich.console import Console

from lumos.app.cli.render import make_console
from lumos.app.cli.errors import fail, user_errors
from lumos.evals.cases import discover_cases
from lumos.evals.validate import validate_case

cases_app = typer.Typer(help="Validate, generate and record incident cases.", no_args_is_help=True)


@cases_app.command("validate")
@user_errors
def validate(dirs: list[Path] = typer.Argument(..., help="Case folders, or folders searched for case.yaml.")) -> None:
    """Check every case: files parse (errors name file:line:field), truth service in the topology,
    times inside the window. Exit 1 if any case has an error."""
    refs = discover_cases(dirs)
    if not refs:
        raise fail("no cases found (a case is a folder holding case.yaml) under: " + ", ".join(map(str, dirs)))
    console = make_console(highlight=False)
    bad = 0
    for ref in refs:
        check = validate_case(ref)
        for warning in check.warnings:
            console.print(f"[yellow]warning[/] {warning}")
        for error in check.errors:
            console.print(f"[red]error[/] {error}")
        bad += 0 if check.ok else 1
    console.print(f"{len(refs)} case(s) checked, {bad} with errors")
    if bad:
        raise typer.Exit(1)


@cases_app.command("generate")
@user_errors
def generate(
    out: Path = typer.Option(..., "--out", help="Folder to write the cases into (created)."),
    count: int = typer.Option(22, "--count", min=1, max=10000, help="How many cases (fault types round-robin)."),
    services: int = typer.Option(8, "--services", min=3, max=500, help="Services per synthetic system."),
    seed: int = typer.Option(0, "--seed", help="Same seed, same bytes."),
) -> None:
    """Generate seeded synthetic cases covering every fault type, with distractor changes and noise."""
    from lumos.evals.generate import generate_cases

    paths = generate_cases(out, count=count, services=services, seed=seed)
    typer.echo(f"wrote {len(paths)} case(s) to {out}")


@cases_app.command("record")
@user_errors
def record(
    incident: str = typer.Option(..., "--incident", help="The id of a live incident (lumos investigate, or lumos serve --config)."),
    out: Path = typer.Option(..., "--out", help="The case folder to write (must not exist yet)."),
    config: Path | None = typer.Option(None, "--config", help="lumos.yaml of the stack (its server.home is the state folder)."),
    home: Path | None = typer.Option(None, "--home", envvar="LUMOS_HOME", help="State folder the incident ran in (default ~/.lumos)."),
) -> None:
    """Turn a live incident into a recorded case: what the investigation read (bounded and redacted when it
    was collected) plus a truth.yaml template to fill in. `lumos eval` on the folder replays it to the
    same ranking; once truth.yaml is filled in, the case is scored."""
    from lumos.app.recording import record_incident
    from lumos.tools.live.config import config_path, load_config

    path = config_path(config)
    stack_home = load_config(path).server.home if path else None
    written = record_incident(incident, out, home=home or stack_home)
    typer.echo(f"wrote case {written} (fill in {written / 'truth.yaml'} to score it; lumos eval {written})")
