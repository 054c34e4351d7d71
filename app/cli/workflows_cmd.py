"""`lumos workflows ...`: list, show and validate declared incident workflows (thin CLI layer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
import yaml
from rich.console import Console
from rich.table import Table

from lumos.graph.resources import load_extensions
from lumos.graph.workflows import WorkflowCatalog
from lumos.tools.errors import NotFoundError
from lumos.tools.settings import Settings

workflows_app = typer.Typer(help="List, show and validate incident workflows.", no_args_is_help=True)

BundledOption = Annotated[bool, typer.Option("--bundled/--no-bundled", help="Include the bundled workflows.")]


def _catalog(extra: list[Path], bundled: bool = True) -> tuple[WorkflowCatalog, list, list]:
    settings = Settings.from_env()
    plugins, _registry, _library, known = load_extensions(settings)
    catalog, errors = WorkflowCatalog.check([*settings.workflow_dirs, *extra], known, include_bundled=bundled)
    return catalog, errors, plugins.errors


@workflows_app.command("list")
def list_workflows(as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the workflows that load (bundled plus LUMOS_WORKFLOW_DIRS); problems and broken plugins go to stderr."""
    catalog, errors, plugin_errors = _catalog([])
    for err in errors:
        typer.echo(f"invalid: {err.one_line()}", err=True)
    for perr in plugin_errors:
        typer.echo(f"plugin skipped: {perr.one_line()}", err=True)
    rows = [{"name": w.workflow.name, "priority": w.workflow.priority, "fallback": w.workflow.fallback,
             "stages": [list(level) for level in w.levels], "branches": [b.name for b in w.workflow.branches],
             "approver_roles": w.workflow.approval.approver_roles, "path": str(w.path)}
            for w in (catalog.items[n] for n in catalog.names())]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("name", "priority", "stages", "branches", "approvers", "description")
    for name in catalog.names():
        w = catalog.items[name].workflow
        stages = " -> ".join(" || ".join(level) for level in catalog.items[name].levels)
        table.add_row(name + (" (fallback)" if w.fallback else ""), str(w.priority), stages, ", ".join(b.name for b in w.branches),
                      ", ".join(w.approval.approver_roles) or "any", w.description)
    Console(width=200).print(table)


@workflows_app.command("show")
def show(name: Annotated[str, typer.Argument(help="Workflow name.")]) -> None:
    """Print one workflow as loaded (defaults filled in), as YAML."""
    catalog, _errors, _plugin_errors = _catalog([])
    try:
        loaded = catalog.get(name)
    except NotFoundError as exc:
        typer.echo(f"error: {exc}", err=True)
        raise typer.Exit(2) from None
    typer.echo(f"# {loaded.path}")
    typer.echo(yaml.safe_dump(loaded.workflow.model_dump(mode="json"), sort_keys=False).rstrip())


@workflows_app.command("validate")
def validate(dirs: Annotated[Optional[list[Path]], typer.Argument(help="Folders or files of workflow YAML (default: configured).")] = None,
             bundled: BundledOption = True) -> None:
    """Validate workflows (with the bundled ones, unless --no-bundled): file:line: field: message per problem; exit 1 if any."""
    for d in dirs or []:
        if not d.exists():
            typer.echo(f"error: {d}: no such file or directory", err=True)
            raise typer.Exit(2)
    catalog, errors, _plugin_errors = _catalog(list(dirs or []), bundled)
    for err in errors:
        typer.echo(err.one_line())
    typer.echo(f"{len(catalog.items)} workflow(s) valid, {len(errors)} error(s)", err=True)
    if errors:
        raise typer.Exit(1)
