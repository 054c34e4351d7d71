"""Where the true root-cause service ranks in the log agent's report, on recorded cases.

    python benchmarks/logs_cases.py [CASES_DIR ...]   (default: ../shared/datasets/cases/nezha-trainticket)

Prints per case the truth, its rank in LogReport.services, the top 3 and the analysis time,
then top-1 / top-3 over the cases with logs.
"""

from __future__ import annotations

import sys
import time
from pathlib import Path

import yaml

from lumos.agents.coordinator import triage
from lumos.agents.log_analyst import analyze_logs
from lumos.tools.casefiles import CaseFiles

DEFAULT = Path(__file__).resolve().parents[2] / "shared" / "datasets" / "cases" / "nezha-trainticket"


def main(argv: list[str]) -> int:
    """Run the analyzer on every case folder and print the ranks."""
    roots = [Path(a) for a in argv] or [DEFAULT]
    folders = sorted(f for root in roots for f in ([root] if (root / "case.yaml").is_file() else root.iterdir()) if (f / "truth.yaml").is_file())
    top1 = top3 = scored = 0
    for folder in folders:
        case = CaseFiles(folder)
        truth = yaml.safe_load((folder / "truth.yaml").read_text())["root_cause"]
        if not case.logs:
            print(f"{folder.name:<28} no logs")
            continue
        report_triage = triage(case.alert, case.topology, data_window=case.info.window)
        t0 = time.perf_counter()
        report = analyze_logs(case.logs, report_triage)
        elapsed = time.perf_counter() - t0
        ranked = [s.service for s in report.services]
        rank = ranked.index(truth["service"]) + 1 if truth["service"] in ranked else None
        scored += 1
        top1 += rank == 1
        top3 += rank is not None and rank <= 3
        top = ", ".join(f"{s.service}:{s.score:.2f}" for s in report.services[:3])
        hint = report.services[rank - 1].fault_hints if rank else {}
        first_hint = next(iter(hint), "-")
        print(f"{folder.name:<28} truth {truth['service']:<32} {truth['fault_type']:<16} rank {rank or '-':>3}  "
              f"hint {first_hint:<18} {len(case.logs):>6} lines {elapsed:.2f}s  top: {top}")
    if scored:
        print(f"cases with logs: {scored}  top-1 {top1}/{scored} = {top1 / scored:.2f}  top-3 {top3}/{scored} = {top3 / scored:.2f}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main(sys.argv[1:]))
