"""`lumos logs templates`: mine the templates of a log file (the command's one definition).

Defined with argparse, not typer, so that the console script can run it without importing
typer, click, pydantic or rich (`lumos.app.cli.main` dispatches `lumos logs templates ...`
here before any of them is imported: start-up is most of the time on 100k lines). The typer
tree lists it as a pass-through command (`lumos.app.cli.logs_cmd`), so `lumos logs --help`
shows it and `CliRunner` tests reach the same code. Errors are one line on stderr: exit 2 for
usage errors and unreadable files, 1 when most lines are not in the chosen format.
"""

from __future__ import annotations

import argparse
import gc
import itertools
import sys
from pathlib import Path

from lumos.tools.logs.filemine import MINE_FORMATS

TYPE_CHECKING = False  # not `typing.TYPE_CHECKING`: importing typing costs start-up time
if TYPE_CHECKING:
    from typing import NoReturn

    from lumos.tools.logs.filemine import MineResult

PROG = "lumos logs templates"
SUMMARY = "Mine the templates of FILE and print them with their counts, most frequent first."
DESCRIPTION = (
    SUMMARY + "\n\n"
    "Variables are found from the data: numbers, ids, addresses, paths and dates are masked, and a word becomes <*> "
    "where it varies like a value. The chosen format is printed (on stderr, and in the table's title). Exit 1 when "
    "most lines are not in the format, 2 for a usage error or an unreadable file."
)
FORMAT_HELP = (
    "Line format: auto (default: detected from the first lines) | raw (the whole line) | jsonl | logfmt | "
    "syslog (RFC 3164/5424) | plain (TIMESTAMP LEVEL MESSAGE) | header (a Loghub-style header ending in a level word)."
)
USAGE_ERROR = 2
NOT_IN_FORMAT = 1


class UsageError(Exception):
    """A command-line mistake: reported as one line, exit code 2."""


class _Formatter(argparse.HelpFormatter):
    """Wraps each paragraph of the description on its own (the default joins them)."""

    def _fill_text(self, text: str, width: int, indent: str) -> str:
        return "\n\n".join(super(_Formatter, self)._fill_text(p, width, indent) for p in text.split("\n\n"))


class _Parser(argparse.ArgumentParser):
    """argparse with one-line errors (no usage block) that the caller turns into exit 2."""

    def error(self, message: str) -> NoReturn:
        raise UsageError(f"{message} (see '{PROG} --help')")


def _positive_int(text: str) -> int:
    try:
        value = int(text)
    except ValueError:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}") from None
    if value < 1:
        raise argparse.ArgumentTypeError(f"expected a whole number >= 1, got {text!r}")
    return value


def _format(text: str) -> str:
    if text not in MINE_FORMATS:
        raise argparse.ArgumentTypeError(f"{text!r} is not one of {', '.join(MINE_FORMATS)}")
    return text


def build_parser() -> argparse.ArgumentParser:
    """The command's options (the one definition; `--help` prints them)."""
    parser = _Parser(prog=PROG, description=DESCRIPTION, allow_abbrev=False,
                     formatter_class=_Formatter)
    parser.add_argument("file", type=Path, metavar="FILE", help="Log file (one entry per line, in --format).")
    parser.add_argument("--assignments", type=Path, metavar="CSV", help="Write line_id,template_id for every line to this CSV.")
    parser.add_argument("--json", dest="as_json", action="store_true", help="Print JSON instead of a table.")
    parser.add_argument("--top", type=_positive_int, metavar="N", help="Show only the N most frequent templates.")
    parser.add_argument("--format", dest="fmt", type=_format, default="auto", metavar="FORMAT", help=FORMAT_HELP)
    parser.add_argument("--workers", type=_positive_int, default=1, metavar="N",
                        help="Mine a large file with N processes (the same result as one; default 1).")
    return parser


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


def _table(result: MineResult, top: int | None) -> str:
    """A plain aligned table, one template per line (no wrapping: easy to grep and copy)."""
    shown = result.templates[:top] if top else result.templates
    total = max(result.lines_mined, 1)
    width = max([len("count"), *(len(str(t.count)) for t in shown)])
    out = [f"{len(result.templates)} templates in {result.lines_mined} lines (format: {result.format})",
           f"{'template_id':<12}  {'count':>{width}}  {'share':>6}  template"]
    out.extend(f"{t.id:<12}  {t.count:>{width}}  {100.0 * t.count / total:>5.1f}%  {t.text}" for t in shown)
    if top and len(result.templates) > top:
        out.append(f"... {len(result.templates) - top} more (--top)")
    return "\n".join(out) + "\n"


def _json(result: MineResult, top: int | None) -> str:
    import json  # noqa: PLC0415 - only for --json

    shown = result.templates[:top] if top else result.templates
    payload = {
        "file": result.path,
        "format": result.format,
        "detected": result.detected or None,
        "lines_total": result.lines_total,
        "lines_mined": result.lines_mined,
        "skipped": result.skipped,
        "templates": [t.as_dict() for t in shown],
    }
    return json.dumps(payload, ensure_ascii=False, indent=2) + "\n"


def _mostly_unparsed(result: MineResult) -> bool:
    """True when most non-blank lines are not in the file's format (a wrong --format)."""
    candidates = result.lines_total - result.skipped.get("empty", 0)
    return candidates > 0 and 2 * result.lines_unparsed > candidates


def _error(message: str) -> None:
    sys.stderr.write(f"error: {message}\n")


def run(argv: list[str]) -> int:
    """Run the command on its arguments (those after `lumos logs templates`); the exit code."""
    parser = build_parser()
    try:
        args = parser.parse_args(argv)
    except UsageError as exc:
        _error(str(exc))
        return USAGE_ERROR
    except SystemExit as exc:  # --help
        return exc.code if isinstance(exc.code, int) else 0
    return _mine(args)


def _mine(args: argparse.Namespace) -> int:
    from lumos.tools.errors import InputError  # noqa: PLC0415 - after parsing: --help stays light
    from lumos.tools.logs.filemine import mine_file  # noqa: PLC0415

    file: Path = args.file
    try:
        result = mine_file(file, args.fmt, assignments=args.assignments is not None, workers=args.workers)
    except InputError as exc:
        _error(exc.one_line())
        return USAGE_ERROR
    except OSError as exc:
        _error(f"{file}: {exc.strerror or exc}")
        return USAGE_ERROR
    sys.stderr.write(_format_note(result) + "\n")
    if _mostly_unparsed(result):
        example = ""
        if result.first_bad is not None:
            line, reason, text = result.first_bad
            example = f"; e.g. line {line} ({reason}): {text[:120]!r}"
        _error(f"{file}: {result.lines_unparsed} of {result.lines_total} lines are not {result.format}{example}. "
               "Try --format auto, or raw to mine whole lines.")
        return NOT_IN_FORMAT
    if args.assignments is not None:
        try:
            _write_assignments(result, args.assignments)
        except OSError as exc:
            _error(f"{args.assignments}: {exc.strerror or exc}")
            return USAGE_ERROR
    if result.lines_skipped or result.lines_total == 0:
        sys.stderr.write(result.summary() + "\n")
    sys.stdout.write(_json(result, args.top) if args.as_json else _table(result, args.top))
    return 0


def main(argv: list[str]) -> int:
    """`run` as the console script runs it: Ctrl-C and a closed pipe (`| head`) end quietly.
    The cyclic garbage collector is off: a short-lived process that makes no reference cycles
    of note would otherwise spend ~8% of its time on the collections the many small key tuples
    trigger."""
    gc.disable()
    try:
        code = run(argv)
        sys.stdout.flush()
        return code
    except KeyboardInterrupt:
        sys.stderr.write("interrupted\n")
        return 130
    except BrokenPipeError:
        import os  # noqa: PLC0415

        os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())  # no second error at exit
        return 1
