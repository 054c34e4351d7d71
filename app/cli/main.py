"""The `lumos` command: registers the command groups and turns user errors into one-line messages."""

from __future__ import annotations

import sys

import typer

from lumos.tools.errors import LumosError

app = typer.Typer(
    name="lumos",
    help="LUMOS: multi-agent incident response. Diagnoses alerts offline or with an LLM, "
    "retrieves runbooks, and never runs a destructive step without a human's approval.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _register() -> None:
    from lumos.app.cli import audit_cmd, cases_cmd, eval_cmd, incident_cmds, serve_cmd, triage_cmd

    incident_cmds.register(app)
    triage_cmd.register(app)
    serve_cmd.register(app)
    app.command("eval")(eval_cmd.eval_command)
    app.add_typer(audit_cmd.audit_app, name="audit")
    app.add_typer(cases_cmd.cases_app, name="cases")
    try:
        from lumos.app.cli.runbooks_cmd import runbooks_app

        app.add_typer(runbooks_app, name="runbooks")
    except ImportError:  # pragma: no cover - during development
        pass
    from lumos.app.cli.workflows_cmd import workflows_app

    app.add_typer(workflows_app, name="workflows")
    try:
        from lumos.app.cli.logs_cmd import logs_app

        app.add_typer(logs_app, name="logs")
    except ImportError:  # pragma: no cover
        pass


_register()


def main() -> None:
    """Entry point of the `lumos` console script."""
    try:
        app()
    except LumosError as exc:
        typer.echo(f"error: {exc}", err=True)
        sys.exit(2)
    except KeyboardInterrupt:
        typer.echo("interrupted; incident state is checkpointed and can be resumed", err=True)
        sys.exit(130)
