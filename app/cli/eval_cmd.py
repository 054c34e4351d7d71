"""`lumos eval`: replay recorded incidents, score them against truth and baselines, gate on regressions."""

from __future__ import annotations

import json
import time
from pathlib import Path
from typing import Optional

import typer
from rich.console import Console
from rich.progress import BarColumn, MofNCompleteColumn, Progress, TextColumn, TimeElapsedColumn
from rich.table import Table

from lumos.app.cli.render import make_console
from lumos.app.cli.errors import fail, user_errors
from lumos.evals.cases import discover_cases
from lumos.evals.compare import find_regressions
from lumos.evals.harness import EvalOptions, run_eval
from lumos.evals.report import write_reports
from lumos.evals.summary import summarize


def scores_table(summary: dict) -> Table:
    """Per-dataset and overall scores (95% bootstrap intervals) beside the baselines."""
    table = Table(title="LUMOS evaluation")
    for col in ("dataset", "cases", "errors", "top-1 [95% CI]", "top-3 [95% CI]", "fault type", "type baseline",
                "runbook ok", "unsafe", "TTD p50 s", "random top-1/3", "alert svc top-1/3"):
        table.add_column(col, justify="left" if col == "dataset" else "right", no_wrap=col == "dataset")
    rows = list(summary["by_dataset"].items()) + [("overall", summary["overall"])]
    for name, r in rows:
        b = r["baselines"]
        majority = r.get("fault_type_majority")
        table.add_row(
            f"[bold]{name}[/]" if name == "overall" else name, str(r["cases"]), str(r["errors"]),
            _with_ci(r, "rca_top1"), _with_ci(r, "rca_top3"), f"{r['fault_type_top1']:.3f}",
            f"{majority['rate']:.3f}" if majority else "-",
            "-" if r["runbook_ok"] is None else f"{r['runbook_ok']:.3f}", str(r["unsafe_actions"]),
            f"{r['time_to_diagnosis_s_p50']:.2f}",
            f"{b['random']['rca_top1']:.3f}/{b['random']['rca_top3']:.3f}",
            f"{b['alert_service']['rca_top1']:.3f}/{b['alert_service']['rca_top3']:.3f}",
        )
    return table


def _with_ci(row: dict, key: str) -> str:
    ci = row.get(f"{key}_ci95")
    return f"{row[key]:.3f} [{ci[0]:.2f}-{ci[1]:.2f}]" if ci else f"{row[key]:.3f}"


def fault_type_table(summary: dict) -> Table | None:
    """Top-1/top-3/fault-type per true fault type."""
    types = summary.get("by_fault_type") or {}
    if not types:
        return None
    table = Table(title="By true fault type")
    for col in ("fault type", "cases", "top-1", "top-3", "type right"):
        table.add_column(col, justify="left" if col == "fault type" else "right", no_wrap=True)
    for name, r in types.items():
        table.add_row(name, str(r["cases"]), f"{r['rca_top1']:.3f}", f"{r['rca_top3']:.3f}", f"{r['fault_type_top1']:.3f}")
    return table


def calibration_table(summary: dict) -> Table | None:
    """Reliability of the top confidence: per confidence bin, how often the top hypothesis was right."""
    cal = summary.get("calibration") or {}
    if not cal.get("n"):
        return None
    table = Table(title=f"Confidence calibration: Brier {cal['brier']:.3f}, ECE {cal['ece']:.3f} ({cal['n']} cases)")
    for col in ("confidence", "cases", "mean confidence", "top-1 accuracy"):
        table.add_column(col, justify="right")
    for b in cal["bins"]:
        if b["n"]:
            table.add_row(f"{b['low']:.1f}-{b['high']:.1f}", str(b["n"]), f"{b['confidence']:.2f}", f"{b['accuracy']:.2f}")
    return table


def _mark(score) -> str:
    """✓ top-1 right, ✗ wrong, ! crashed (counted as a miss)."""
    return "!" if score.status == "error" else ("✓" if score.rca_top1 else "✗")


@user_errors
def eval_command(
    cases_dirs: list[Path] = typer.Argument(..., help="Folders searched for cases (every folder holding a case.yaml)."),
    out: Path = typer.Option(Path("eval-results"), "--out", help="Where results.json, report.md and report.html go."),
    jobs: int = typer.Option(2, "--jobs", "-j", min=1, help="Worker processes."),
    mode: str = typer.Option("offline", "--mode", help="offline (deterministic analyzers) or llm (configured models)."),
    approve: str = typer.Option("auto", "--approve", help="auto: approve every gate as eval:auto; none: stop at the first gate."),
    compare: Optional[Path] = typer.Option(None, "--compare", help="A previous results.json; exit 1 if a score regresses."),
    tolerance: float = typer.Option(0.02, "--tolerance", min=0.0, max=1.0, help="Allowed drop of a rate before it counts as a regression."),
) -> None:
    """Replay recorded incidents through the incident graph and score them.

    A case's dataset is the name of its folder's parent. Scores: rca_top1/top3 (true root-cause
    service ranked first / in the first three), fault_type_top1, runbook_ok, unsafe_actions,
    time to diagnosis; beside a random ranking and 'blame the alerting service'.
    Example: lumos eval evals/cases --out /tmp/r --compare evals/baseline-results.json
    """
    if mode not in ("offline", "llm"):
        raise fail(f"--mode must be offline or llm, got {mode!r}")
    if approve not in ("auto", "none"):
        raise fail(f"--approve must be auto or none, got {approve!r}")
    if mode == "llm":
        from lumos.agents.llm.config import llm_configured
        from lumos.tools.settings import Settings

        if not llm_configured(Settings.from_env(mode="llm")):
            raise fail("--mode llm needs a model endpoint: set OPENAI_API_KEY (and LUMOS_MODEL) or OPENAI_BASE_URL for an OpenAI-compatible server")
    previous = None
    if compare is not None:
        try:
            previous = json.loads(compare.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise fail(f"{compare}: file not found") from None
        except json.JSONDecodeError as exc:
            raise fail(f"{compare}:{exc.lineno}: invalid JSON ({exc.msg}); expected a results.json from lumos eval") from None
        if not isinstance(previous, dict) or "summary" not in previous:
            raise fail(f"{compare}: expected a results.json with a 'summary' key")
    refs = discover_cases(cases_dirs)
    if not refs:
        raise fail("no cases found (a case is a folder holding case.yaml) under: " + ", ".join(map(str, cases_dirs)))
    console = make_console()
    options = EvalOptions(state_dir=out / "state", mode=mode, approve=approve, jobs=jobs)
    t0 = time.perf_counter()
    if console.is_terminal:
        with Progress(TextColumn("[bold]eval[/]"), BarColumn(), MofNCompleteColumn(), TimeElapsedColumn(),
                      TextColumn("{task.description}"), console=console, transient=True) as progress:
            task = progress.add_task("", total=len(refs))

            def advance(score) -> None:
                progress.update(task, advance=1, description=f"{_mark(score)} {score.dataset}/{score.id}")

            scores = run_eval(refs, options, on_result=advance)
    else:
        # No terminal (CI logs, pipes): one plain line per case as it finishes.
        done = 0

        def advance(score) -> None:
            nonlocal done
            done += 1
            print(f"eval {done}/{len(refs)} {_mark(score)} {score.dataset}/{score.id} ({time.perf_counter() - t0:.1f} s)", flush=True)

        scores = run_eval(refs, options, on_result=advance)
    wall = time.perf_counter() - t0
    summary = summarize(scores)
    meta = {"mode": mode, "approve": approve, "jobs": jobs, "wall_s": round(wall, 2), "roots": [str(p) for p in cases_dirs]}
    written = write_reports(out, scores, summary, meta)
    console.print(scores_table(summary))
    for extra in (fault_type_table(summary), calibration_table(summary)):
        if extra is not None:
            console.print(extra)
    for score in scores:
        if score.status == "error":
            console.print(f"[red]error[/] {score.dataset}/{score.id}: {score.error}", highlight=False)
    console.print(f"{len(scores)} cases in {wall:.1f} s. Wrote " + ", ".join(str(p) for p in written))
    if previous is not None:
        regressions = find_regressions(previous, {"summary": summary}, tolerance)
        if regressions:
            console.print(f"[bold red]{len(regressions)} regression(s) against {compare}:[/]")
            for reg in regressions:
                console.print("  " + reg.line(), highlight=False)
            raise typer.Exit(1)
        console.print(f"No regressions against {compare} (tolerance {tolerance}).")
