"""`lumos logs ...`: log template mining from the command line (a thin layer over lumos.tools.logs).

Import-light on purpose: `lumos logs templates` loads typer and the mining modules, nothing of
the incident graph, the models, pydantic models or rich.
"""

from __future__ import annotations

import itertools
import json
import sys
from pathlib import Path
from typing import Optional

import typer

from lumos.tools.errors import InputError
from lumos.tools.logs.filemine import MINE_FORMATS, MineResult, mine_file

logs_app = typer.Typer(help="Log tools: template mining.", no_args_is_help=True)

FORMAT_HELP = (
    "Line format: auto (default: detected from the first lines) | raw (the whole line) | jsonl | logfmt | "
    "syslog (RFC 3164/5424) | plain (TIMESTAMP LEVEL MESSAGE) | header (a Loghub-style header ending in a level word)."
)


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


def _format_note(result: MineResult) -> str:
    """`format: syslog (detected: ...)` or `format: jsonl`."""
    return f"format: {result.format}" + (f" (detected: {result.detected})" if result.detected else "")


def _print_table(result: MineResult, top: int | None) -> None:
    """A plain aligned table, one template per line (no wrapping: easy to grep and copy; and no
    rich import on this path, which start-up time matters for)."""
    shown = result.templates[:top] if top else result.templates
    total = max(result.lines_mined, 1)
    width = max([len("count"), *(len(str(t.count)) for t in shown)])
    out = [f"{len(result.templates)} templates in {result.lines_mined} lines (format: {result.format})",
           f"{'template_id':<12}  {'count':>{width}}  {'share':>6}  template"]
    out.extend(f"{t.id:<12}  {t.count:>{width}}  {100.0 * t.count / total:>5.1f}%  {t.text}" for t in shown)
    if top and len(result.templates) > top:
        out.append(f"... {len(result.templates) - top} more (--top)")
    sys.stdout.write("\n".join(out) + "\n")


def _mostly_unparsed(result: MineResult) -> bool:
    """True when most non-blank lines are not in the file's format (a wrong --format)."""
    candidates = result.lines_total - result.skipped.get("empty", 0)
    return candidates > 0 and 2 * result.lines_unparsed > candidates


@logs_app.command("templates")
def templates(
    file: Path = typer.Argument(..., help="Log file (one entry per line, in --format)."),
    assignments: Optional[Path] = typer.Option(None, "--assignments", help="Write line_id,template_id for every line to this CSV."),
    as_json: bool = typer.Option(False, "--json", help="Print JSON instead of a table."),
    top: Optional[int] = typer.Option(None, "--top", min=1, help="Show only the N most frequent templates."),
    fmt: str = typer.Option("auto", "--format", help=FORMAT_HELP),
    workers: int = typer.Option(1, "--workers", min=1, help="Mine a large file with N processes (the same result as one)."),
) -> None:
    """Mine the templates of FILE and print them with their counts, most frequent first.

    Variables are found from the data: numbers, ids, addresses, paths and dates are masked,
    and a word becomes <*> where it varies like a value. The chosen format is printed (on
    stderr, and in the table's title). Exit 1 when most lines are not in the format.
    """
    if fmt not in MINE_FORMATS:
        print(f"error: --format {fmt!r} is not one of {', '.join(MINE_FORMATS)}", file=sys.stderr)
        raise typer.Exit(2)
    try:
        result = mine_file(file, fmt, assignments=assignments is not None, workers=workers)
    except InputError as exc:
        print(f"error: {exc.one_line()}", file=sys.stderr)
        raise typer.Exit(2) from None
    except OSError as exc:
        print(f"error: {file}: {exc.strerror or exc}", file=sys.stderr)
        raise typer.Exit(2) from None
    print(_format_note(result), file=sys.stderr)
    if _mostly_unparsed(result):
        example = ""
        if result.first_bad is not None:
            line, reason, text = result.first_bad
            example = f"; e.g. line {line} ({reason}): {text[:120]!r}"
        print(f"error: {file}: {result.lines_unparsed} of {result.lines_total} lines are not {result.format}{example}. "
              "Try --format auto, or raw to mine whole lines.", file=sys.stderr)
        raise typer.Exit(1)
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
            "detected": result.detected or None,
            "lines_total": result.lines_total,
            "lines_mined": result.lines_mined,
            "skipped": result.skipped,
            "templates": [t.as_dict() for t in shown],
        }
        typer.echo(json.dumps(payload, ensure_ascii=False, indent=2))
    else:
        _print_table(result, top)


if __name__ == "__main__":
    logs_app()
