"""Scale benchmark (issues 5 and 16): rank 1,000 services from 1M spans; blast radius on 100k nodes.

Usage: python benchmarks/rca_scale.py [--services 1000] [--spans 100000,1000000,2000000] [--nodes 100000]
                                      [--seed 7] [--profile FILE] [--phases] [--skip-blast]

Everything is generated from the seed: a layered call graph (edge services at the top, databases
at the bottom), traces that walk it from an edge service (each call taken with some probability,
children run one after another inside their parent), and one injected fault (a mid-layer service
gets 8x slower and fails 30% of its requests after the onset). Each size runs in a fresh process
that writes the spans to a spans.jsonl in a temporary folder, then does what `lumos` does with a
case folder: read spans.jsonl into columns (`CaseFiles.span_table`), index them
(`CaseFiles.span_index`), triage with the onset searched in the data (`triage_from_sources`), then
`map_dependencies` and `correlate`. No span object is built on that path (the source below fails
if anything asks for them).

Printed per size: the read time, the ranking time (index + triage + map_dependencies + correlate;
target <= 7 s at 1M spans), wall and CPU (the CPU time shows what other processes on a shared
machine add), the rank of the injected root cause (target: top 3 at every size), peak RSS
(VmHWM of the fresh process, target < 1 GB at 1M) and the RSS the loaded spans take; then the
blast radius timings on a 100k-node graph (target < 50 ms). With --phases, the trace analyses are
then timed one by one on the same index (after the ranking).
"""

from __future__ import annotations

import argparse
import cProfile
import os
import pstats
import random
import resource
import statistics
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime, timedelta
from functools import cached_property
from pathlib import Path

import msgspec
import networkx as nx

from lumos.agents.coordinator import triage_from_sources
from lumos.agents.correlator import correlate
from lumos.agents.dependency_mapper import map_dependencies
from lumos.tools.domain import Alert, CallEdge, Service, TimeWindow, Topology
from lumos.tools.topology.graph import build_call_graph
from lumos.tools.topology.queries import blast_radius
from lumos.tools.traces.compare import compare_spans, gap_outliers
from lumos.tools.traces.onset import detect_onset
from lumos.tools.traces.patterns import truncation_blame
from lumos.tools.traces.sequences import missing_events
from lumos.tools.traces.spans import SpanIndex, entry_call_sequences, index_table, span_columns
from lumos.tools.traces.table import read_spans_jsonl

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DURATION_S = 1800.0
ONSET_S = 1200.0


def _rss_mb() -> float:
    """Current resident set size in MiB (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
    """Peak resident set size of this process image in MiB (VmHWM: unlike ru_maxrss, not inherited
    from the parent across fork and exec)."""
    with open("/proc/self/status") as fh:
        for line in fh:
            if line.startswith("VmHWM:"):
                return int(line.split()[1]) / 1024
    return resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024


def layered_graph(n: int, rng: random.Random, *, fanout: tuple[int, int] = (1, 4)) -> tuple[list[list[str]], dict[str, list[str]]]:
    """`n` services in layers of growing then shrinking width; each calls 1-4 services deeper down."""
    shares = [0.01, 0.06, 0.15, 0.28, 0.30, 0.20]
    sizes = [max(1, round(n * s)) for s in shares]
    sizes[-1] += n - sum(sizes)
    layers: list[list[str]] = []
    k = 0
    for li, size in enumerate(sizes):
        layers.append([f"L{li}-s{k + i}" for i in range(size)])
        k += size
    calls: dict[str, list[str]] = {}
    for li, layer in enumerate(layers[:-1]):
        for svc in layer:
            targets: set[str] = set()
            for _ in range(rng.randint(*fanout)):
                lj = li + 1 if rng.random() < 0.8 or li + 2 >= len(layers) else li + 2
                targets.add(rng.choice(layers[lj]))
            calls[svc] = sorted(targets)
    # Every service below the edge has at least one caller in the layer above.
    called = {b for bs in calls.values() for b in bs}
    for li in range(1, len(layers)):
        for svc in layers[li]:
            if svc not in called:
                caller = rng.choice(layers[li - 1])
                calls[caller] = sorted({*calls[caller], svc})
    return layers, calls


def write_spans(path: Path, n_spans: int, layers: list[list[str]], calls: dict[str, list[str]], root_cause: str,
                rng: random.Random) -> tuple[int, str]:
    """Traces over the call graph into spans.jsonl until `n_spans` spans exist (the last trace is cut
    short); returns (traces written, the edge service whose traces reach the root cause most often)."""
    base_ms = {s: rng.lognormvariate(1.0, 0.6) for layer in layers for s in layer}
    encoder = msgspec.json.Encoder()
    entries = layers[0]
    hits: dict[str, int] = {}
    trace_no = span_no = written = 0
    with path.open("wb") as fh:
        while written < n_spans:
            trace_id = f"t{trace_no:07x}"
            trace_no += 1
            start = T0 + timedelta(seconds=rng.random() * DURATION_S)
            faulty = (start - T0).total_seconds() >= ONSET_S
            # Iterative DFS: (service, parent record, depth); times are filled in below.
            root = rng.choice(entries)
            records: list[list] = []  # [span_no, parent_no, service, start, own_ms, error, children]
            stack = [(root, None, 0)]
            while stack and written + len(records) < n_spans:
                svc, parent, depth = stack.pop()
                own = base_ms[svc] * (0.7 + 0.6 * rng.random())
                error = False
                if faulty and svc == root_cause:
                    own *= 8.0
                    error = rng.random() < 0.3
                rec = [span_no, parent, svc, start, own, error, []]
                span_no += 1
                records.append(rec)
                if parent is not None:
                    records[parent][6].append(rec)
                if depth < 6:
                    for callee in calls.get(svc, ()):
                        if rng.random() < 0.55:
                            stack.append((callee, len(records) - 1, depth + 1))
            # Durations bottom-up: own time plus the children's (run one after another), errors propagate.
            for rec in reversed(records):
                rec.append(rec[4] + sum(c[7] for c in rec[6]))
                if any(c[5] for c in rec[6]):
                    rec[5] = True
            # Start times top-down: the children start halfway through the parent's own time, each
            # after the previous one ended (what the durations above assume).
            for rec in records:
                at = rec[3] + timedelta(milliseconds=rec[4] / 2)
                for child in rec[6]:
                    child[3] = at
                    at += timedelta(milliseconds=child[7])
            hits[root] = hits.get(root, 0) + sum(rec[2] == root_cause for rec in records)
            rows = [{"trace_id": trace_id, "span_id": f"{rec[0]:x}", "parent_span_id": f"{records[rec[1]][0]:x}" if rec[1] is not None else None,
                     "service": rec[2], "operation": "handle", "start": rec[3], "duration_ms": round(rec[7], 3),
                     "status": "ERROR" if rec[5] else "OK", "instance": f"{rec[2]}-0"} for rec in records]
            fh.write(encoder.encode_lines(rows))
            written += len(records)
    return trace_no, max(hits, key=lambda k: (hits[k], k))


class ColumnSource:
    """What triage and the agents read from a case folder, with spans only as columns: asking for
    span objects is an error here (the ranking path must not build them)."""

    def __init__(self, path: Path, topology: Topology):
        self.span_table = read_spans_jsonl(path)
        self.topology = topology
        self.metrics: list = []

    @cached_property
    def span_index(self) -> SpanIndex:
        """Built on first use, inside the timed ranking (like `CaseFiles.span_index`)."""
        return index_table(self.span_table)

    @property
    def spans(self):
        raise AssertionError("span objects were asked for on the ranking path")

    def window(self) -> TimeWindow:
        return TimeWindow(start=T0, end=T0 + timedelta(seconds=DURATION_S))


def _topology(layers: list[list[str]], calls: dict[str, list[str]]) -> Topology:
    return Topology(
        services=[Service(name=s, kind="database" if li == len(layers) - 1 else "service", tier="edge" if li == 0 else None)
                  for li, layer in enumerate(layers) for s in layer],
        calls=[CallEdge(caller=a, callee=b) for a, bs in calls.items() for b in bs],
    )


def bench_size(args: argparse.Namespace, n_spans: int, folder: Path) -> None:
    """Generate (unless the file is there), load and rank one size; this process's peak RSS is the figure."""
    rng = random.Random(args.seed)
    layers, calls = layered_graph(args.services, rng)
    root_cause = layers[3][len(layers[3]) // 2]
    topo = _topology(layers, calls)
    path = folder / f"spans-{args.services}-{n_spans}-{args.seed}.jsonl"
    t = time.perf_counter()
    n_traces, alert_service = write_spans(path, n_spans, layers, calls, root_cause, rng)
    gen_s = time.perf_counter() - t
    rss0 = _rss_mb()
    t, c = time.perf_counter(), time.process_time()
    source = ColumnSource(path, topo)
    load_s, load_cpu = time.perf_counter() - t, time.process_time() - c
    rss_loaded = _rss_mb()
    print(f"spans={n_spans:,} traces={n_traces:,} services={args.services} edges={len(topo.calls)} root_cause={root_cause} "
          f"(generated {gen_s:.1f} s, spans.jsonl {path.stat().st_size / 2**20:.0f} MiB)")
    alert = Alert(fingerprint="scale", name="HighLatency", service=alert_service, starts_at=T0 + timedelta(seconds=ONSET_S + 60))
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    c = time.process_time()
    t = time.perf_counter()
    tri = triage_from_sources(alert, source)
    tri_s = time.perf_counter() - t
    t = time.perf_counter()
    dep = map_dependencies(topology=topo, spans=(), metrics=[], changes=[], triage=tri, index=source.span_index)
    map_s = time.perf_counter() - t
    t = time.perf_counter()
    hyps = correlate(triage=tri, log_report=None, dependency_report=dep, topology=topo)
    corr_s = time.perf_counter() - t
    rank_cpu = time.process_time() - c
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    rank = next((i + 1 for i, h in enumerate(hyps) if h.service == root_cause), None)
    total = tri_s + map_s + corr_s
    print(f"  read spans.jsonl -> columns {load_s:.2f} s (CPU {load_cpu:.2f} s); ranking: index + triage {tri_s:.2f} s + "
          f"map_dependencies {map_s:.2f} s + correlate {corr_s:.2f} s = {total:.2f} s (CPU {rank_cpu:.2f} s; target <= 7 s at 1M: "
          f"{'MET' if total <= 7 else 'MISSED'}); read + ranking {load_s + total:.2f} s")
    onset = f"{(tri.onset - T0).total_seconds():.0f} s" if tri.onset else "none"
    print(f"  root cause ranked #{rank} of {len(hyps)} (top 3: {'YES' if rank and rank <= 3 else 'NO'}), top-3 {[h.service for h in hyps[:3]]}; "
          f"onset found at {onset} (injected at {ONSET_S:.0f} s)")
    print(f"  memory: peak RSS {_peak_mb():.0f} MiB (target < 1024 MiB), the loaded spans {rss_loaded - rss0:.0f} MiB "
          f"({(rss_loaded - rss0) * 2**20 / n_spans:.0f} B/span)")
    print(f"RESULT spans={n_spans} rank={rank} ranking_s={total:.3f} ranking_cpu_s={rank_cpu:.3f} load_s={load_s:.3f} "
          f"load_cpu_s={load_cpu:.3f} peak_mb={_peak_mb():.0f}", flush=True)
    if args.phases:
        del dep, hyps
        bench_phases(source.span_index, tri.incident_window.start)


def bench_phases(index: SpanIndex, alert_onset: datetime) -> None:
    """Time the trace analyses of `map_dependencies` one by one (a fresh index, so nothing is cached)."""
    times: list[tuple[str, float]] = []

    def timed(label, fn):
        t = time.perf_counter()
        out = fn()
        times.append((label, time.perf_counter() - t))
        return out

    starts = span_columns(index).start
    first = datetime.fromtimestamp(float(starts.min()), tz=UTC)
    last = datetime.fromtimestamp(float(starts.max()), tz=UTC)
    onset, _ = timed("detect_onset", lambda: detect_onset(index, earliest=first, latest=last - timedelta(seconds=15), min_side_s=15))
    onset = onset or alert_onset
    timed("compare_spans", lambda: compare_spans(index, onset))
    timed("gap_outliers x2", lambda: (gap_outliers(index, alert_onset), gap_outliers(index, onset)))
    timed("truncation_blame", lambda: truncation_blame(index, onset))
    timed("missing_events", lambda: missing_events(index, [], onset))
    timed("entry_call_sequences", lambda: entry_call_sequences(index))
    print("  phases: " + ", ".join(f"{label} {s:.2f} s" for label, s in times))


def blast_graph(n: int, rng: random.Random) -> nx.DiGraph:
    """A layered `n`-node call graph (1-4 callees each) built like the agent builds it: catalog
    topology merged with span call counts by `build_call_graph`."""
    layers, calls = layered_graph(n, rng)
    # A shared database (think auth or config store) behind a tenth of the deepest services:
    # the worst case, with a large share of the graph among its transitive callers.
    hub = layers[-1][0]
    for svc in layers[-2][::10]:
        calls[svc] = sorted({*calls[svc], hub})
    topo = Topology(
        services=[Service(name=s, tier="edge" if li == 0 else None) for li, layer in enumerate(layers) for s in layer],
        calls=[CallEdge(caller=a, callee=b) for a, bs in calls.items() for b in bs],
    )
    span_edges = {(a, b): rng.randint(1, 1000) for a, bs in calls.items() for b in bs}
    g, _ = build_call_graph(topo, span_edges)
    return g


def bench_blast(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    t = time.perf_counter()
    g = blast_graph(args.nodes, rng)
    build_s = time.perf_counter() - t
    layers = sorted({n.split("-")[0] for n in g.nodes})
    # Per layer, the service with the most direct callers (the deepest ones have the largest radius).
    picks = {f"{layer} (depth {i})": max((n for n in g.nodes if n.startswith(layer + "-")), key=lambda n: (g.in_degree(n), n)) for i, layer in enumerate(layers)}
    print(f"blast radius: graph {g.number_of_nodes():,} nodes, {g.number_of_edges():,} edges (built in {build_s:.1f} s)")
    worst = 0.0
    for label, svc in picks.items():
        times = []
        for _ in range(args.repeat):
            t = time.perf_counter()
            br = blast_radius(g, svc)
            times.append((time.perf_counter() - t) * 1000)
        med = statistics.median(times)
        worst = max(worst, med)
        print(f"  {label:<16} {svc:<14} affected={len(br.affected):>6} user_facing={len(br.user_facing):>4} impact={br.impact:.3f}  "
              f"median {med:7.1f} ms (min {min(times):.1f}, max {max(times):.1f}, n={args.repeat})")
    print(f"blast radius worst median {worst:.1f} ms (target < 50 ms: {'MET' if worst < 50 else 'MISSED'})")
    if args.profile:
        leaf = list(picks.values())[-1]
        cProfile.runctx("blast_radius(g, leaf)", globals(), {"g": g, "leaf": leaf, "blast_radius": blast_radius}, sort="tottime")


def bench_ranking(args: argparse.Namespace) -> None:
    """Each size in a fresh process (peak RSS is per process), then a summary."""
    sizes = [int(x) for x in str(args.spans).split(",")]
    results: list[dict[str, str]] = []
    with tempfile.TemporaryDirectory(prefix="rca-scale-") as tmp:
        for n in sizes:
            cmd = [sys.executable, __file__, "--one-size", str(n), "--services", str(args.services), "--seed", str(args.seed), "--tmp", tmp]
            cmd += (["--phases"] if args.phases else []) + (["--profile", args.profile] if args.profile else [])
            proc = subprocess.run(cmd, capture_output=True, text=True)
            sys.stdout.write(proc.stdout)
            if proc.returncode != 0:
                sys.stdout.write(proc.stderr)
                results.append({"spans": str(n), "rank": "crash"})
                continue
            line = next(x for x in proc.stdout.splitlines() if x.startswith("RESULT "))
            results.append(dict(kv.split("=", 1) for kv in line.split()[1:]))
    ok = all(r.get("rank", "None").isdigit() and int(r["rank"]) <= 3 for r in results)
    print("summary: " + "; ".join(
        f"{int(r['spans']):,} spans rank #{r['rank']}" + (f", read {float(r['load_s']):.1f} s, ranking {float(r['ranking_s']):.2f} s "
                                                         f"(CPU {float(r['ranking_cpu_s']):.2f} s), peak {r['peak_mb']} MiB" if "peak_mb" in r else "")
        for r in results))
    print(f"root cause in the top 3 at every size: {'YES' if ok else 'NO'}")


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--spans", default="100000,1000000,2000000", help="comma-separated sizes, each run in a fresh process")
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--profile", metavar="FILE", help="cProfile the ranking into FILE and print the top entries")
    ap.add_argument("--phases", action="store_true", help="after the ranking, time the trace analyses one by one")
    ap.add_argument("--skip-ranking", action="store_true")
    ap.add_argument("--skip-blast", action="store_true")
    ap.add_argument("--one-size", type=int, help=argparse.SUPPRESS)
    ap.add_argument("--tmp", type=Path, help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.one_size:
        bench_size(args, args.one_size, args.tmp)
        return
    print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start (timings scale with it)")
    if not args.skip_blast:
        bench_blast(args)
    if not args.skip_ranking:
        bench_ranking(args)


if __name__ == "__main__":
    main()
