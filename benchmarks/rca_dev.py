"""Root-cause ranking on the dev cases: top-1/top-3/fault-type per dataset beside two baselines.

Usage: python benchmarks/rca_dev.py [--cases DIR] [--dataset NAME] [--no-logs] [-v]
Truth is read here only (truth.yaml), never by the analyzers.
"""

from __future__ import annotations

import argparse
import sys
import time
from collections import defaultdict
from pathlib import Path

import yaml

from lumos.agents.coordinator import triage
from lumos.agents.correlator import correlate
from lumos.agents.dependency_mapper import map_dependencies
from lumos.tools.casefiles import CaseFiles

DEFAULT_CASES = Path("/work/shared/datasets/cases")


def _log_analyzer():
    try:
        from lumos.agents.log_analyst import analyze_logs  # type: ignore[import-not-found]
    except ImportError:
        return None
    return analyze_logs


def run_case(folder: Path, analyze_logs) -> dict:
    """Diagnose one case and score it against its truth.yaml."""
    truth = yaml.safe_load((folder / "truth.yaml").read_text())["root_cause"]
    t0 = time.perf_counter()
    c = CaseFiles(folder)
    tri = triage(c.alert, c.topology, data_window=c.info.window)
    log_report = None
    if analyze_logs is not None and c.logs:
        try:
            log_report = analyze_logs(c.logs, tri)
        except Exception as exc:  # the benchmark must survive a sibling's work in progress
            print(f"  log analyzer failed on {folder.name}: {exc!r}", file=sys.stderr)
    dep = map_dependencies(topology=c.topology, spans=c.spans, metrics=c.metrics, changes=c.changes, triage=tri)
    hyps = correlate(triage=tri, log_report=log_report, dependency_report=dep, topology=c.topology)
    seconds = time.perf_counter() - t0
    ranked = [h.service for h in hyps]
    services = c.topology.service_names() or ranked
    n = max(1, len(services))
    return {
        "case": folder.name,
        "truth": truth["service"],
        "truth_type": truth["fault_type"],
        "top": ranked[:3],
        "type": hyps[0].fault_type.value if hyps else None,
        "top1": bool(ranked) and ranked[0] == truth["service"],
        "top3": truth["service"] in ranked[:3],
        "type1": bool(hyps) and hyps[0].fault_type.value == truth["fault_type"],
        "rand1": 1.0 / n if truth["service"] in services else 0.0,
        "rand3": min(3, n) / n if truth["service"] in services else 0.0,
        "alert1": c.alert.service == truth["service"],
        "seconds": seconds,
        "logs": log_report is not None,
    }


def main(argv: list[str] | None = None) -> int:
    """Run every case under --cases and print a per-dataset table."""
    ap = argparse.ArgumentParser(description=__doc__)
    ap.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    ap.add_argument("--dataset", default=None)
    ap.add_argument("--no-logs", action="store_true", help="rank without the log analyzer (spans, metrics, changes only)")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    analyze_logs = None if args.no_logs else _log_analyzer()
    print(f"log analyzer: {'yes' if analyze_logs else 'not available'}")
    results: dict[str, list[dict]] = defaultdict(list)
    for ds in sorted(p for p in args.cases.iterdir() if p.is_dir()):
        if args.dataset and ds.name != args.dataset:
            continue
        for folder in sorted(p for p in ds.iterdir() if (p / "case.yaml").is_file()):
            r = run_case(folder, analyze_logs)
            results[ds.name].append(r)
            if args.verbose:
                mark = "OK " if r["top1"] else ("ok3" if r["top3"] else "-- ")
                print(f"{mark} {r['case']:40s} truth={r['truth']}/{r['truth_type']} got={r['top']} type={r['type']} {r['seconds']:.2f}s")
    header = f"{'dataset':24s} {'cases':>5s} {'top1':>6s} {'top3':>6s} {'type1':>6s} {'s/case':>7s} | {'rand1':>6s} {'rand3':>6s} {'alert1':>6s}"
    print(header)
    print("-" * len(header))
    allr: list[dict] = []
    for ds, rs in results.items():
        allr.extend(rs)
        _row(ds, rs)
    if len(results) > 1:
        _row("all", allr)
    return 0


def _row(name: str, rs: list[dict]) -> None:
    n = len(rs)
    mean = lambda k: sum(float(r[k]) for r in rs) / n  # noqa: E731
    print(
        f"{name:24s} {n:5d} {mean('top1'):6.3f} {mean('top3'):6.3f} {mean('type1'):6.3f} {mean('seconds'):7.2f} | "
        f"{mean('rand1'):6.3f} {mean('rand3'):6.3f} {mean('alert1'):6.3f}"
    )


if __name__ == "__main__":
    raise SystemExit(main())
