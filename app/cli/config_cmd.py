"""`lumos config example|check`: write and check `lumos.yaml`, the configuration of a live stack."""

from __future__ import annotations

from pathlib import Path
from typing import Optional

import typer

from lumos.app.cli.errors import fail, user_errors
from lumos.tools.live.config import CONFIG_ENV, check_config, config_path

config_app = typer.Typer(help="Write and check lumos.yaml (live sources, action backends, notifications, server).",
                         no_args_is_help=True)


@config_app.command("example")
def example() -> None:
    """Print a commented example lumos.yaml (valid as it stands; every action a dry run).

    lumos config example > lumos.yaml && lumos config check lumos.yaml --probe
    """
    from lumos.tools.live.example import EXAMPLE

    typer.echo(EXAMPLE, nl=False)


@config_app.command("check")
@user_errors
def check(
    file: Optional[Path] = typer.Argument(None, help=f"The file (default: --config, ${CONFIG_ENV}, else ./lumos.yaml)."),
    config: Optional[Path] = typer.Option(None, "--config", help="Same as FILE."),
    probe: bool = typer.Option(False, "--probe", help="Also ask each configured source one question and say which answer."),
    home: Optional[Path] = typer.Option(None, "--home", envvar="LUMOS_HOME", help="State folder (the span/change store for SQLite)."),
) -> None:
    """Validate lumos.yaml: exit 0 when valid, 2 with every error as file:line: field: message.

    With --probe, exit 1 when a configured source does not answer.
    """
    path = file or config_path(config) or Path("lumos.yaml")
    if not path.is_file():
        raise fail(f"{path}: file not found (write one with: lumos config example > {path})")
    parsed, errors = check_config(path)
    for error in errors:
        typer.echo(f"error: {error}", err=True)
    if parsed is None:
        raise typer.Exit(2)
    typer.echo(f"{path}: valid; sources: {', '.join(parsed.sources.configured()) or 'none'}; "
               f"actions: default {parsed.actions.default.backend}{' (dry run)' if parsed.actions.default.dry_run else ''}")
    if not probe:
        return
    from lumos.tools.live.probe import probe as run_probe
    from lumos.tools.settings import Settings

    statuses = run_probe(parsed, Settings.from_env(home=home).state_dir)
    for status in statuses:
        typer.echo(f"  {'ok    ' if status.ok else 'FAILED'} {status.source}: {status.detail}")
    if any(not s.ok for s in statuses):
        raise typer.Exit(1)
