"""The `lumos` command: lists the command groups, imports each only when it runs, and turns user errors into one-line messages.

Start-up matters on call (the issue asks ≤ 0.5 s per command): `lumos --help` and `lumos logs ...` must not pay for
LangGraph, LangChain or matplotlib. So the top-level group knows each command by name, module and one-line help, and
imports the module only when that command is invoked (`benchmarks/cli_startup.py` measures it).
"""

from __future__ import annotations

import importlib
import sys
from dataclasses import dataclass
from typing import Any

import click
import typer
from typer.core import TyperGroup

from lumos import __version__
from lumos.tools.errors import LumosError


@dataclass(frozen=True)
class CommandSpec:
    """Where a top-level command lives and what `lumos --help` says about it before it is imported."""

    module: str
    """Module under `lumos.app.cli` that defines the command."""
    attr: str
    """`register` (a function adding commands to a Typer), a Typer sub-app, or a command function."""
    help: str
    """First line of the command's help; a test checks it matches the command itself."""


COMMANDS: dict[str, CommandSpec] = {
    "demo": CommandSpec("incident_cmds", "register", "Run the bundled demo: a bad deploy breaks checkout in an 8-service shop."),
    "run": CommandSpec("incident_cmds", "register", "Run any recorded case folder as an incident (same flow as `lumos demo`)."),
    "resume": CommandSpec("incident_cmds", "register",
                          "Answer the pending approval of a paused incident and continue it (in this new process)."),
    "triage": CommandSpec("triage_cmd", "register",
                          "Chat about an incident: slash commands (/help lists them; they work offline) and free-text questions "
                          "for the coordinator model (when one is configured). Destructive steps run only after /approve N."),
    "investigate": CommandSpec("investigate_cmd", "register",
                               "Investigate one alert against the live sources of lumos.yaml: same graph, gates and audit trail as `lumos run`."),
    "serve": CommandSpec("serve_cmd", "register",
                         "Serve webhooks (Alertmanager, PagerDuty, generic, changes), OTLP traces, the incident API and the web console."),
    "eval": CommandSpec("eval_cmd", "eval_command", "Replay recorded incidents through the incident graph and score them."),
    "audit": CommandSpec("audit_cmd", "audit_app", "Show and verify incident audit trails (append-only, hash-chained)."),
    "cases": CommandSpec("cases_cmd", "cases_app", "Validate, generate and record incident cases."),
    "config": CommandSpec("config_cmd", "config_app",
                          "Write and check lumos.yaml (live sources, action backends, notifications, server)."),
    "runbooks": CommandSpec("runbooks_cmd", "runbooks_app", "Validate, list, index and search runbooks."),
    "workflows": CommandSpec("workflows_cmd", "workflows_app", "List, show and validate incident workflows."),
    "logs": CommandSpec("logs_cmd", "logs_app", "Log tools: template mining."),
}


class _NotLoaded(click.Command):
    """Stands in for a command in listings and suggestions until the command is invoked."""

    def __init__(self, name: str, spec: CommandSpec) -> None:
        super().__init__(name, help=spec.help, short_help=spec.help)
        self.spec = spec


def load_command(name: str, spec: CommandSpec) -> dict[str, click.Command]:
    """Import the module of `name` and return the click commands it defines (a module may define several)."""
    module = importlib.import_module(f"lumos.app.cli.{spec.module}")
    target: Any = getattr(module, spec.attr)
    holder = typer.Typer(add_completion=False, pretty_exceptions_enable=False)
    if isinstance(target, typer.Typer):
        holder.add_typer(target, name=name)
    elif spec.attr == "register":
        target(holder)
    else:
        holder.command(name)(target)
    return dict(typer.main.get_group(holder).commands)


class LazyGroup(TyperGroup):
    """A Typer group whose commands are imported on first use (see module docstring)."""

    def __init__(self, **attrs: Any) -> None:
        super().__init__(**attrs)
        for name, spec in COMMANDS.items():
            self.commands.setdefault(name, _NotLoaded(name, spec))

    def resolve_command(self, ctx: click.Context, args: list[str]) -> tuple[str | None, click.Command | None, list[str]]:
        """Import the invoked command's module (replacing its stand-ins) before click resolves it."""
        placeholder = self.commands.get(args[0]) if args else None
        if isinstance(placeholder, _NotLoaded):
            for loaded_name, command in load_command(args[0], placeholder.spec).items():
                if isinstance(self.commands.get(loaded_name), _NotLoaded):
                    self.commands[loaded_name] = command
        return super().resolve_command(ctx, args)


app = typer.Typer(
    name="lumos",
    cls=LazyGroup,
    help="LUMOS: multi-agent incident response. Diagnoses alerts offline or with an LLM, "
    "retrieves runbooks, and never runs a destructive step without a human's approval.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
)


def _print_version(value: bool) -> None:
    if value:
        typer.echo(f"lumos {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_print_version, is_eager=True, help="Print the LUMOS version and exit."),
) -> None:
    """LUMOS: multi-agent incident response. Diagnoses alerts offline or with an LLM, retrieves runbooks, and never runs a destructive step without a human's approval."""


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


if __name__ == "__main__":
    main()
