"""Leave-one-dataset-out cross-validation of the offline diagnosis model (issue 16).

Usage: python benchmarks/rca_cv.py [--cases DIR] [--alert-delay S ...] [--fit-calibration] [--cache DIR]
                                   [--set rank.local.missing_events=0.3 ...] [--no-search] [-v]

Every case is replayed once through the expensive evidence stage (triage, log window comparison,
dependency evidence) with the shipped model; the scoring stage (log report, graph ranking, fault
types, correlation) then runs cheaply for any candidate weights. Folds: each dataset held out in
turn (weights chosen on the others), and PetShop's own test cases held out (weights chosen on every
other case, PetShop's train cases included). For each fold it prints top-1/top-3/fault-type of the
shipped weights and of the weights chosen without that fold (coordinate search over the knobs
below, objective: mean over training datasets of top-1 + top-3/2), then the means. Calibration is
fitted per fold on the training cases' raw top scores (Platt, scipy) and scored on the held-out
cases: the out-of-fold Brier score and expected calibration error (ECE, 10 bins) are printed.
`--fit-calibration` prints the parameters fitted on all cases (what the shipped model carries).
`--alert-delay 300` shifts every alert 300 s later first (robustness to late alerts).
Truth is read here only (truth.yaml), never by the analyzers.
"""

from __future__ import annotations

import argparse
import hashlib
import math
import pickle
import sys
import time
from collections import defaultdict
from dataclasses import dataclass
from datetime import timedelta
from pathlib import Path
from typing import Any

import numpy as np

from lumos.agents.coordinator import triage, triage_from_sources
from lumos.agents.correlator import correlate
from lumos.agents.dependency_mapper import DependencyEvidence, gather_evidence, rank_evidence
from lumos.agents.log_analyst import compare_logs, report_from_comparison
from lumos.tools.casefiles import CaseFiles, safe_load_yaml
from lumos.tools.diagnosis_model import DEFAULT_MODEL, DiagnosisModel
from lumos.tools.domain import TriageReport, Topology

DEFAULT_CASES = Path(__file__).resolve().parents[1].parent.parent / "shared" / "datasets" / "cases"
if not DEFAULT_CASES.is_dir():
    DEFAULT_CASES = Path("/work/shared/datasets/cases")

# The knobs searched per fold (dotted paths into DiagnosisModel) and their candidate values.
KNOBS: dict[str, list[float]] = {
    "rank.symptom_share": [0.25, 0.5, 1.0],
    "rank.path_floor": [0.25, 0.5, 0.75],
    "rank.external_prior": [0.5, 0.7, 1.0],
    "rank.mirror_transfer": [0.0, 0.5, 0.8, 1.0],
    "log_weight": [0.5, 1.0],
    "logs.score_scale": [4.0, 8.0, 16.0],
    "rank.local.calls_blamed": [0.15, 0.3, 0.6],
    "rank.local.missing_events": [0.0, 0.15, 0.3, 0.6],
}


@dataclass
class CaseEvidence:
    """One case's expensive stage, reusable for any weights."""

    case: str
    dataset: str
    truth_service: str
    truth_type: str
    triage: TriageReport
    logs: Any  # WindowComparison | None
    deps: DependencyEvidence
    topology: Topology


@dataclass
class CaseResult:
    case: str
    dataset: str
    top1: bool
    top3: bool
    type1: bool
    raw_top: float
    raw_second: float
    predicted_type: str


def gather(folder: Path, dataset: str, alert_delay_s: float, window: str = "data") -> CaseEvidence:
    """Triage and the evidence stages of one case with the shipped model (window: 'data' = around
    the onset found in the data, 'alert' = a fixed look-back from the alert, as before issue 16)."""
    truth = safe_load_yaml((folder / "truth.yaml").read_text())["root_cause"]
    c = CaseFiles(folder)
    alert = c.alert.model_copy(update={"starts_at": c.alert.starts_at + timedelta(seconds=alert_delay_s)})
    if window == "alert":
        tri = triage(alert, c.topology, data_window=c.window(), onset_lookback_s=DEFAULT_MODEL.onset.alert_lookback_s)
    else:
        tri = triage_from_sources(alert, c, model=DEFAULT_MODEL)
    cmp = compare_logs(c.logs, tri) if c.logs else None
    deps = gather_evidence(topology=c.topology, spans=(), metrics=c.metrics, changes=c.changes, triage=tri, model=DEFAULT_MODEL,
                           index=c.span_index, logs=c.logs)
    return CaseEvidence(case=folder.name, dataset=dataset, truth_service=truth["service"], truth_type=truth["fault_type"],
                        triage=tri, logs=cmp, deps=deps, topology=c.topology)


def score(ev: CaseEvidence, model: DiagnosisModel) -> CaseResult:
    """The cheap scoring stage of one case under `model`."""
    log_report = report_from_comparison(ev.logs, model=model) if ev.logs is not None else None
    dep = rank_evidence(ev.deps, ev.triage, model)
    hyps = correlate(triage=ev.triage, log_report=log_report, dependency_report=dep, topology=ev.topology, model=model, calibrate=False)
    ranked = [h.service for h in hyps]
    raw = [h.confidence for h in hyps] + [0.0, 0.0]
    ftype = hyps[0].fault_type.value if hyps else "unknown"
    return CaseResult(case=ev.case, dataset=ev.dataset, top1=ranked[:1] == [ev.truth_service], top3=ev.truth_service in ranked[:3],
                      type1=ftype == ev.truth_type, raw_top=raw[0], raw_second=raw[1], predicted_type=ftype)


def rates(results: list[CaseResult]) -> tuple[float, float, float]:
    n = max(1, len(results))
    return (sum(r.top1 for r in results) / n, sum(r.top3 for r in results) / n, sum(r.type1 for r in results) / n)


def objective(results: list[CaseResult]) -> float:
    """Mean over datasets of top-1 + top-3/2 (each dataset counts the same, whatever its size)."""
    by: dict[str, list[CaseResult]] = defaultdict(list)
    for r in results:
        by[r.dataset].append(r)
    return sum(rates(rs)[0] + 0.5 * rates(rs)[1] for rs in by.values()) / max(1, len(by))


def choose(train: list[CaseEvidence], passes: int = 2, start: DiagnosisModel = DEFAULT_MODEL) -> tuple[DiagnosisModel, dict[str, float]]:
    """Coordinate search over KNOBS from `start` (the shipped model), maximising the objective on `train`."""
    chosen: dict[str, float] = {}
    model = start
    best = objective([score(e, model) for e in train])
    for _ in range(passes):
        improved = False
        for knob, values in KNOBS.items():
            for v in values:
                trial = start.with_updates({**chosen, knob: v})
                value = objective([score(e, trial) for e in train])
                if value > best + 1e-9:
                    best, model, improved = value, trial, True
                    chosen[knob] = v
        if not improved:
            break
    return model, chosen


def fit_platt(results: list[CaseResult]) -> tuple[float, float]:
    """(slope, intercept) of P(top-1 right) = sigmoid(a log(raw top / raw second) + b), by maximum
    likelihood with a small ridge on the slope (scipy)."""
    from scipy.optimize import minimize

    x = np.array([math.log((r.raw_top + 1e-3) / (r.raw_second + 1e-3)) for r in results])
    y = np.array([float(r.top1) for r in results])

    def loss(p: np.ndarray) -> float:
        z = p[0] * x + p[1]
        return float(np.sum(np.logaddexp(0.0, z) - y * z) + 0.01 * p[0] ** 2)

    res = minimize(loss, np.array([0.0, 0.0]), method="L-BFGS-B")
    return float(res.x[0]), float(res.x[1])


def calibration_table(probs: list[float], hits: list[bool], bins: int = 10) -> tuple[float, float, list[tuple[str, int, float, float]]]:
    """(Brier, ECE, rows of (bin, n, mean confidence, accuracy))."""
    from lumos.evals.calibration import reliability

    table = reliability(probs, hits, bins=bins)
    return table.brier, table.ece, [(f"{b.low:.1f}-{b.high:.1f}", b.n, b.confidence, b.accuracy) for b in table.bins if b.n]


def folds(evidence: list[CaseEvidence]) -> list[tuple[str, list[CaseEvidence], list[CaseEvidence]]]:
    """(name, train, test) for every held-out dataset, plus PetShop's own train/test split."""
    out = []
    for ds in sorted({e.dataset for e in evidence}):
        out.append((ds, [e for e in evidence if e.dataset != ds], [e for e in evidence if e.dataset == ds]))
    test = [e for e in evidence if e.dataset == "petshop" and "-test-" in e.case]
    if test:
        out.append(("petshop test (own split)", [e for e in evidence if e not in test], test))
    return out


def load_all(cases: Path, alert_delay_s: float, cache: Path | None, verbose: bool, window: str = "data") -> list[CaseEvidence]:
    """Evidence of every case (from the cache when it holds this code's and these cases' run)."""
    folders = [(ds.name, f) for ds in sorted(p for p in cases.iterdir() if p.is_dir())
               for f in sorted(ds.iterdir()) if (f / "case.yaml").is_file() and (f / "truth.yaml").is_file()]
    key = None
    if cache is not None:
        code = b"".join(p.read_bytes() for p in sorted(Path(__file__).resolve().parents[1].glob("[agt]*/**/*.py")))
        key = hashlib.sha256(code + str((cases, alert_delay_s, window)).encode()).hexdigest()[:16]
        path = cache / f"rca-cv-{key}.pickle"
        if path.is_file():
            return pickle.loads(path.read_bytes())
    out = []
    for ds, folder in folders:
        t = time.perf_counter()
        out.append(gather(folder, ds, alert_delay_s, window))
        if verbose:
            print(f"  gathered {ds}/{folder.name} in {time.perf_counter() - t:.2f} s", file=sys.stderr)
    if cache is not None and key is not None:
        cache.mkdir(parents=True, exist_ok=True)
        (cache / f"rca-cv-{key}.pickle").write_bytes(pickle.dumps(out))
    return out


def main(argv: list[str] | None = None) -> int:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--cases", type=Path, default=DEFAULT_CASES)
    ap.add_argument("--alert-delay", type=float, default=0.0, help="shift every alert this many seconds later")
    ap.add_argument("--window", choices=("data", "alert"), default="data",
                    help="data: the incident window around the onset found in the data (shipped); alert: a fixed look-back from the alert")
    ap.add_argument("--fit-calibration", action="store_true", help="print the calibration fitted on all cases")
    ap.add_argument("--no-search", action="store_true", help="score the shipped weights only (no per-fold weight choice)")
    ap.add_argument("--cache", type=Path, default=None, help="keep the evidence stage in this folder between runs")
    ap.add_argument("--set", action="append", default=[], metavar="KEY=VALUE",
                    help="score the shipped model with this weight changed (dotted path, e.g. rank.local.missing_events=0.3); repeatable")
    ap.add_argument("-v", "--verbose", action="store_true")
    args = ap.parse_args(argv)
    t0 = time.perf_counter()
    evidence = load_all(args.cases, args.alert_delay, args.cache, args.verbose, args.window)
    print(f"{len(evidence)} cases from {args.cases} (alert delay {args.alert_delay:+.0f} s); evidence stage {time.perf_counter() - t0:.1f} s")
    try:
        base = DEFAULT_MODEL.with_updates({k: float(v) for k, _, v in (item.partition("=") for item in args.set)})
    except (KeyError, ValueError) as exc:
        ap.error(f"--set: expected KEY=VALUE with a weight of the diagnosis model ({exc})")
    if args.set:
        print("shipped model with " + ", ".join(args.set))
    shipped = {e.case: score(e, base) for e in evidence}
    if args.verbose:
        for e in evidence:
            r = shipped[e.case]
            mark = "OK " if r.top1 else ("ok3" if r.top3 else "-- ")
            print(f"{mark} {e.dataset}/{e.case} truth={e.truth_service}/{e.truth_type} type={r.predicted_type} raw={r.raw_top:.3f}")
    header = f"{'held-out fold':28s} {'cases':>5s} | {'shipped top-1/top-3/type':>26s} | {'chosen without fold':>26s} | knobs chosen"
    print(header)
    print("-" * len(header))
    sums = defaultdict(list)
    oof_probs: list[float] = []
    oof_hits: list[bool] = []
    for name, train, test in folds(evidence):
        s1, s3, st = rates([shipped[e.case] for e in test])
        if args.no_search:
            model, chosen = base, {}
        else:
            model, chosen = choose(train, start=base)
        test_results = [score(e, model) for e in test]
        c1, c3, ct = rates(test_results)
        sums["shipped"].append((s1, s3, st))
        sums["chosen"].append((c1, c3, ct))
        knobs = ", ".join(f"{k}={v:g}" for k, v in chosen.items()) or "(shipped)"
        print(f"{name:28s} {len(test):5d} | {s1:8.3f} {s3:8.3f} {st:8.3f} | {c1:8.3f} {c3:8.3f} {ct:8.3f} | {knobs}")
        if name != "petshop test (own split)":
            a, b = fit_platt([score(e, model) for e in train])
            cal = DEFAULT_MODEL.calibration.model_copy(update={"slope": a, "intercept": b})
            oof_probs += [cal.probability(r.raw_top, r.raw_second) for r in test_results]
            oof_hits += [r.top1 for r in test_results]
    for label in ("shipped", "chosen"):
        rows = sums[label]
        mean = [sum(r[i] for r in rows) / len(rows) for i in range(3)]
        print(f"{'mean (' + label + ')':28s} {'':5s} | {mean[0]:8.3f} {mean[1]:8.3f} {mean[2]:8.3f} |")
    majority = defaultdict(lambda: defaultdict(int))
    for e in evidence:
        majority[e.dataset][e.truth_type] += 1
    print("most-frequent-type baseline per dataset: " + ", ".join(
        f"{ds} {max(c.values()) / sum(c.values()):.3f} ({max(c, key=c.get)})" for ds, c in sorted(majority.items())))
    brier, ece, table = calibration_table(oof_probs, oof_hits)
    print(f"out-of-fold calibration (Platt fitted on the other datasets): Brier {brier:.3f}, ECE {ece:.3f} over {len(oof_probs)} cases")
    for label, n, conf, acc in table:
        print(f"  confidence {label}: {n:3d} cases, mean confidence {conf:.2f}, top-1 accuracy {acc:.2f}")
    if args.fit_calibration:
        a, b = fit_platt(list(shipped.values()))
        print(f"calibration fitted on all {len(shipped)} cases: slope={a:.4f} intercept={b:.4f}")
    print(f"total {time.perf_counter() - t0:.1f} s")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
