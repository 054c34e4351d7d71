"""`lumos runbooks ...`: validate, list, index, search and export the schema of runbooks (thin CLI layer)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated, Optional

import typer
from rich.console import Console
from rich.table import Table

from lumos.tools.domain import FAULT_TYPES
from lumos.tools.errors import InputError
from lumos.tools.runbooks import LexicalRunbookIndex, RunbookLibrary, check_runbook_file, runbook_json_schema
from lumos.tools.runbooks.library import runbook_files
from lumos.tools.runbooks.retrieval import ChromaConfig, open_runbook_index
from lumos.tools.runbooks.search import RunbookIndex
from lumos.tools.settings import Settings

runbooks_app = typer.Typer(help="Validate, list, index and search runbooks.", no_args_is_help=True)

DirsOption = Annotated[Optional[list[Path]], typer.Option("--dir", "-d", help="Extra runbook folder (repeatable).")]
BundledOption = Annotated[bool, typer.Option("--bundled/--no-bundled", help="Include the bundled runbooks.")]


def _fail(message: str, code: int = 2) -> None:
    typer.echo(f"error: {message}", err=True)
    raise typer.Exit(code)


def _library(dirs: list[Path] | None, bundled: bool) -> RunbookLibrary:
    for d in dirs or []:
        if not d.is_dir():
            _fail(f"{d}: not a directory")
    return RunbookLibrary.load(dirs or [], include_bundled=bundled)


@runbooks_app.command("validate")
def validate(dirs: Annotated[list[Path], typer.Argument(help="Folders (or files) of runbook YAML.")]) -> None:
    """Validate every runbook under DIR...; print each error as file:line: field: message; exit 1 if any."""
    files: list[Path] = []
    for d in dirs:
        if d.is_file():
            files.append(d)
        elif d.is_dir():
            files.extend(runbook_files(d))
        else:
            _fail(f"{d}: no such file or directory")
    errors: list[InputError] = []
    seen: dict[str, Path] = {}
    for path in files:
        runbook, file_errors = check_runbook_file(path)
        errors.extend(file_errors)
        if runbook is not None:
            if runbook.id in seen:
                errors.append(InputError(f"duplicate runbook id {runbook.id!r} (also in {seen[runbook.id]})", path=path, line=1, field="id"))
            seen.setdefault(runbook.id, path)
    for err in errors:
        typer.echo(err.one_line())
    bad = len({e.path for e in errors})
    typer.echo(f"{len(files)} file(s) checked, {len(files) - bad} valid, {len(errors)} error(s)", err=True)
    if errors:
        raise typer.Exit(1)


@runbooks_app.command("list")
def list_runbooks(dirs: DirsOption = None, bundled: BundledOption = True,
                  as_json: Annotated[bool, typer.Option("--json", help="Print JSON.")] = False) -> None:
    """List the runbooks that load (bundled plus --dir folders); invalid files are reported on stderr."""
    library = _library(dirs, bundled)
    for err in library.errors:
        typer.echo(f"skipped: {err.one_line()}", err=True)
    rows = [{"id": rb.id, "title": rb.title, "fault_types": [f.value for f in rb.fault_types],
             "kinds": rb.selector.kinds, "steps": len(rb.steps)} for rb in library.all()]
    if as_json:
        typer.echo(json.dumps(rows, indent=2))
        return
    table = Table("id", "fault types", "kinds", "steps", "title")
    for r in rows:
        table.add_row(r["id"], ", ".join(r["fault_types"]), ", ".join(r["kinds"]) or "any", str(r["steps"]), r["title"])
    Console().print(table)


def _chroma_config() -> ChromaConfig:
    try:
        return ChromaConfig.from_env(Settings.from_env().state_dir)
    except (InputError, ValueError) as exc:
        _fail(str(exc))
        raise  # unreachable: _fail exits


def _index_exists(config: ChromaConfig) -> bool:
    return bool(config.host) or (config.path is not None and (config.path / "chroma.sqlite3").is_file())


def _progress(done: int, total: int) -> None:
    if total:
        typer.echo(f"embedding runbooks: {done}/{total}", err=True)


@runbooks_app.command("index")
def index(dirs: DirsOption = None, bundled: BundledOption = True) -> None:
    """Build or update the Chroma vector index of the runbooks: LUMOS_HOME/chroma, or the Chroma server named by
    LUMOS_CHROMA_HOST/LUMOS_CHROMA_PORT. Only new or changed runbooks are embedded; deleted ones are removed."""
    from lumos.tools.runbooks.embedding import EmbeddingUnavailable

    library = _library(dirs, bundled)
    for err in library.errors:
        typer.echo(f"skipped: {err.one_line()}", err=True)
    config = _chroma_config()
    try:
        from lumos.tools.runbooks.vector import ChromaRunbookIndex

        typer.echo(f"indexing {len(library)} runbook(s) into {config.describe()}", err=True)
        report = ChromaRunbookIndex.open(library, config, sync=False).sync(progress=_progress)
    except EmbeddingUnavailable as exc:
        _fail(f"offline embedding model unavailable: {exc}")
        return
    except ImportError as exc:
        _fail(f"{exc.name} is not installed (needed for the vector index)")
        return
    typer.echo(f"{len(report.added)} added, {len(report.updated)} updated, {len(report.removed)} removed, "
               f"{report.unchanged} unchanged")


@runbooks_app.command("search")
def search(text: Annotated[str, typer.Argument(help="Symptom or alert text.")],
           k: Annotated[int, typer.Option("-k", min=1, max=100, help="How many results.")] = 5,
           as_json: Annotated[bool, typer.Option("--json", help="Print a JSON list of {id, title, fault_types, score}.")] = False,
           fault_type: Annotated[Optional[list[str]], typer.Option("--fault-type", "-f", help="Only these fault types.")] = None,
           kind: Annotated[Optional[str], typer.Option("--kind", help="Service kind: service, database, cache, queue, external.")] = None,
           lexical: Annotated[bool, typer.Option("--lexical", help="Use BM25 only, even if a vector index exists.")] = False,
           dirs: DirsOption = None, bundled: BundledOption = True) -> None:
    """Find the runbooks that best fit TEXT, best first: hybrid vector + BM25 once `lumos runbooks index` has run, else BM25."""
    for ft in fault_type or []:
        if ft not in FAULT_TYPES:
            _fail(f"--fault-type {ft!r} is not a fault type; valid: {', '.join(FAULT_TYPES)}")
    library = _library(dirs, bundled)
    config = _chroma_config()
    retriever: RunbookIndex
    if lexical:
        retriever = LexicalRunbookIndex(library)
    elif _index_exists(config):
        retriever = open_runbook_index(library, config, progress=_progress, warn=lambda line: typer.echo(line, err=True))
    else:
        typer.echo("note: no vector index yet (run `lumos runbooks index`); using lexical BM25", err=True)
        retriever = LexicalRunbookIndex(library)
    matches = retriever.search(text, fault_types=fault_type or None, service_kind=kind, k=k)
    if as_json:
        typer.echo(json.dumps([m.model_dump() for m in matches], indent=2))
        return
    if not matches:
        typer.echo("no matching runbook")
        return
    table = Table("score", "id", "fault types", "title")
    for m in matches:
        table.add_row(f"{m.score:.2f}", m.id, ", ".join(m.fault_types), m.title)
    Console().print(table)


@runbooks_app.command("schema")
def schema() -> None:
    """Print the JSON Schema of the runbook format (action and check names as enums)."""
    typer.echo(json.dumps(runbook_json_schema(), indent=2))
