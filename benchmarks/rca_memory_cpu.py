"""CPU saturation vs memory pressure from metrics alone (issue 16 target: fault type >= 0.90).

Usage: python benchmarks/rca_memory_cpu.py [--per-type 30] [--services 8] [--seed 0] [--keep DIR]

Generates seeded synthetic cases (`lumos.evals.generate`) of the two fault types, each on a
random service of a random system: CPU saturation (CPU ramping to 90-99 %) and memory pressure
(heap growing toward the 2 GiB limit, GC work raising CPU as it fills, OOM kills and restarts
every few minutes). Spans and logs are deleted, so only metrics.csv (CPU, memory and restart
count per pod, request rate/errors/latency per service), topology and changes remain, as in a
metrics-only shop. Each case is diagnosed offline (triage with the onset from the data,
dependency mapping, correlation) and scored: root cause top-1 and fault type of the top
hypothesis, per true type, beside the most-frequent-type baseline (0.50 by construction).
"""

from __future__ import annotations

import argparse
import tempfile
import time
from collections import defaultdict
from pathlib import Path

from lumos.agents.coordinator import triage_from_sources
from lumos.agents.correlator import correlate
from lumos.agents.dependency_mapper import map_dependencies
from lumos.evals.generate import generate_case
from lumos.tools.casefiles import CaseFiles, safe_load_yaml

TYPES = ("cpu_saturation", "memory_pressure")


def diagnose(folder: Path) -> tuple[str, str]:
    """(top service, top fault type) of the offline diagnosis of one case folder."""
    c = CaseFiles(folder)
    tri = triage_from_sources(c.alert, c)
    dep = map_dependencies(topology=c.topology, spans=(), metrics=c.metrics, changes=c.changes, triage=tri, index=c.span_index)
    hyps = correlate(triage=tri, log_report=None, dependency_report=dep, topology=c.topology)
    return (hyps[0].service, hyps[0].fault_type.value) if hyps else ("", "unknown")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--per-type", type=int, default=30)
    ap.add_argument("--services", type=int, default=8)
    ap.add_argument("--seed", type=int, default=0)
    ap.add_argument("--keep", type=Path, help="write the cases here (kept) instead of a temporary folder")
    ap.add_argument("-v", "--verbose", action="store_true", help="print every case")
    args = ap.parse_args()
    t0 = time.perf_counter()
    with tempfile.TemporaryDirectory(prefix="rca-memcpu-") as tmp:
        out = args.keep or Path(tmp)
        out.mkdir(parents=True, exist_ok=True)
        rows: dict[str, list[tuple[bool, bool, str]]] = defaultdict(list)
        for i in range(args.per_type):
            for k, ft in enumerate(TYPES):
                folder = generate_case(out, fault_type=ft, seed=args.seed * 100_003 + 2 * i + k, services=args.services,
                                       id_prefix=f"memcpu-{i:03d}")
                for name in ("spans.jsonl", "logs.jsonl"):
                    (folder / name).unlink(missing_ok=True)
                truth = safe_load_yaml((folder / "truth.yaml").read_text())["root_cause"]
                service, predicted = diagnose(folder)
                rows[ft].append((service == truth["service"], predicted == ft, predicted))
                if args.verbose:
                    print(f"  {folder.name}: truth {truth['service']}/{ft}, top {service}/{predicted}")
    print(f"{sum(map(len, rows.values()))} metrics-only cases ({args.per_type} per type, {args.services} services, seed {args.seed}) "
          f"in {time.perf_counter() - t0:.0f} s")
    for ft in TYPES:
        r = rows[ft]
        wrong = defaultdict(int)
        for _, ok, predicted in r:
            if not ok:
                wrong[predicted] += 1
        print(f"  {ft:16s} top-1 {sum(a for a, _, _ in r) / len(r):.3f}  fault type {sum(b for _, b, _ in r) / len(r):.3f}"
              + (f"  (wrong: {dict(wrong)})" if wrong else ""))
    everything = [x for r in rows.values() for x in r]
    print(f"  all              top-1 {sum(a for a, _, _ in everything) / len(everything):.3f}  "
          f"fault type {sum(b for _, b, _ in everything) / len(everything):.3f} (target >= 0.90; most-frequent-type baseline 0.500)")


if __name__ == "__main__":
    main()
