"""`lumos logs ...`: log template mining from the command line (a thin layer over lumos.tools.logs)."""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.table import Table

from lumos.tools.errors import InputError
from lumos.tools.logs.filemine import MineResult, mine_file
from lumos.tools.logs.formats import LOG_FORMATS

logs_app = typer.Typer(help="Log tools: template mining.", no_args_is_help=True)


@logs_app.callback()
def _group() -> None:
    """Log tools: template mining."""


def _write_assignments(result: MineResult, out: Path) -> None:
    """Write `line_id,template_id` for every line (skipped lines have an empty id)."""
    ids = [*result.cluster_ids, ""]  # index -1 (a skipped line) -> ""
    rows = map("{},{}\n".format, itertools.count(1), map(ids.__getitem__, result.line_clusters))
    with out.open("w", encoding="utf-8", newline="") as fh:
        fh.write("line_id,template_id\n")
        fh.writelines(rows)


def _print_table(result: MineResult, top: int | None) -> None:
    table = Table(title=f"{len(result.templates)} templates in {result.lines_mined} lines")
    table.add_column("template_id", style="cyan", no_wrap=True)
    table.add_column("count", justify="right")
    table.add_column("share", justify="right")
    table.add_column("template", overflow="fold")
    total = max(result.lines_mined, 1)
    for tpl in result.templates[:top] if top else result.templates:
        table.add_row(tpl.id, str(tpl.count), f"{100.0 * tpl.count / total:.1f}%", tpl.text)
    Console().print(table)


@logs_app.command("templates")
def templates(
    file: Path = typer.Argument(..., help="Log file: one message per line, or a log file in --format."),
    assignments: Optional[Path] = typer.Option(None, "--assignments", help="Write line_id,template_id for every line to this CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Show only the N most frequent templates."),
    fmt: str = typer.Option("raw", "--format", help=f"Line format: {'|'.join(LOG_FORMATS)}."),
    workers: int = typer.Option(1, "--workers", min=1, help="Mine a large file with N processes (deterministic for a given N)."),
) -> None:
    """Mine the templates of FILE and print them with their counts, most frequent first."""
    if fmt not in LOG_FORMATS:
        print(f"error: --format {fmt!r} is not one of {', '.join(LOG_FORMATS)}", file=sys.stderr)
        raise typer.Exit(2)
    try:
        result = mine_file(file, fmt, assignments=assignments is not None, workers=workers)  # type: ignore[arg-type]
    except InputError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        raise typer.Exit(2) from None
    except OSError as exc:
        print(f"error: {file}: {exc.strerror or exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    if assignments is not None:
        try:
            _write_assignments(result, assignments)
        except OSError as exc:
            print(f"error: {assignments}: {exc.strerror or exc}", file=sys.stderr)
            raise typer.Exit(2) from None
    if result.lines_skipped or result.lines_total == 0:
        print(result.summary(), file=sys.stderr)
    shown = result.templates[:top] if top else result.templates
    if as_json:
        payload = {
            "file": result.path,
            "format": result.format,
            "lines_total": result.lines_total,
            "lines_mined": result.lines_mined,
            "skipped": result.skipped,
            "templates": [t.model_dump() for t in shown],
        }
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        _print_table(result, top)


if __name__ == "__main__":
    logs_app()
