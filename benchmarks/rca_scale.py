"""Scale benchmark (issue 5, item 8): rank 1,000 services from 1M spans; blast radius on 100k nodes.

Usage: python benchmarks/rca_scale.py [--services 1000] [--spans 1000000] [--nodes 100000]
                                      [--seed 7] [--validate] [--profile FILE] [--phases]

Everything is generated in memory from the seed: a layered call graph (edge services at the
top, databases at the bottom), traces that walk it from an edge service (each call taken with
some probability, children run one after another inside their parent), and one injected fault
(a mid-layer service gets slow and fails part of its requests after the onset). Spans are built
with `Span.model_construct` (no validation: the generator makes valid values) unless
--validate; the validated build rate is measured on a 20k-span sample either way.

Printed: build time, `map_dependencies` and `correlate` time (target < 10 s together), the
rank of the injected root cause, blast radius timings on a 100k-node graph (target < 50 ms),
and peak memory (ru_maxrss; RSS growth during the ranking from /proc/self/statm). With
--phases, the trace analyses are then timed one by one on the same spans (after the ranking).
"""

from __future__ import annotations

import argparse
import cProfile
import gc
import os
import pstats
import random
import resource
import statistics
import time
from datetime import UTC, datetime, timedelta

import networkx as nx

from lumos.agents.coordinator import triage
from lumos.agents.correlator import correlate
from lumos.agents.dependency_mapper import map_dependencies
from lumos.tools.domain import Alert, CallEdge, Service, Span, TimeWindow, Topology
from lumos.tools.topology.graph import build_call_graph
from lumos.tools.topology.queries import blast_radius
from lumos.tools.traces.compare import compare_spans, gap_outliers
from lumos.tools.traces.onset import detect_onset
from lumos.tools.traces.patterns import truncation_blame
from lumos.tools.traces.spans import entry_call_sequences, index_spans

T0 = datetime(2026, 1, 1, tzinfo=UTC)
DURATION_S = 1800.0
ONSET_S = 1200.0


def _rss_mb() -> float:
    """Current resident set size in MiB (Linux)."""
    with open("/proc/self/statm") as fh:
        return int(fh.read().split()[1]) * os.sysconf("SC_PAGE_SIZE") / 2**20


def _peak_mb() -> float:
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


def make_spans(n_spans: int, layers: list[list[str]], calls: dict[str, list[str]], root_cause: str, rng: random.Random, validate: bool) -> list[Span]:
    """Traces over the call graph until `n_spans` spans exist (the last trace is cut short)."""
    build = Span if validate else Span.model_construct
    base_ms = {s: rng.lognormvariate(1.0, 0.6) for layer in layers for s in layer}
    spans: list[Span] = []
    entries = layers[0]
    trace_no = 0
    span_no = 0
    while len(spans) < n_spans:
        trace_id = f"t{trace_no:07x}"
        trace_no += 1
        start = T0 + timedelta(seconds=rng.random() * DURATION_S)
        faulty = (start - T0).total_seconds() >= ONSET_S
        # Iterative DFS: (service, parent span id, start time, depth); durations are filled bottom-up.
        root = rng.choice(entries)
        records: list[list] = []  # [span_no, parent_no, service, start, own_ms, error, children]
        stack = [(root, None, start, 0)]
        while stack and len(spans) + len(records) < n_spans:
            svc, parent, t, depth = stack.pop()
            own = base_ms[svc] * (0.7 + 0.6 * rng.random())
            error = False
            if faulty and svc == root_cause:
                own *= 8.0
                error = rng.random() < 0.3
            rec = [span_no, parent, svc, t, own, error, []]
            span_no += 1
            records.append(rec)
            if parent is not None:
                records[parent][6].append(rec)
            if depth < 6:
                for callee in calls.get(svc, ()):
                    if rng.random() < 0.55:
                        stack.append((callee, len(records) - 1, t + timedelta(milliseconds=own / 2), depth + 1))
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
        for rec in records:
            parent_id = f"{records[rec[1]][0]:x}" if rec[1] is not None else None
            spans.append(build(trace_id=trace_id, span_id=f"{rec[0]:x}", parent_span_id=parent_id, service=rec[2], operation="handle",
                               start=rec[3], duration_ms=rec[7], status="ERROR" if rec[5] else "OK", instance=f"{rec[2]}-0"))
    return spans


def bench_ranking(args: argparse.Namespace) -> None:
    rng = random.Random(args.seed)
    layers, calls = layered_graph(args.services, rng)
    root_cause = layers[3][len(layers[3]) // 2]
    topo = Topology(
        services=[Service(name=s, kind="database" if li == len(layers) - 1 else "service", tier="edge" if li == 0 else None) for li, layer in enumerate(layers) for s in layer],
        calls=[CallEdge(caller=a, callee=b) for a, bs in calls.items() for b in bs],
    )
    t = time.perf_counter()
    sample = make_spans(20_000, layers, calls, root_cause, random.Random(1), validate=True)
    validated_rate = len(sample) / (time.perf_counter() - t)
    del sample
    rss0 = _rss_mb()
    t = time.perf_counter()
    spans = make_spans(args.spans, layers, calls, root_cause, rng, validate=args.validate)
    build_s = time.perf_counter() - t
    rss_spans = _rss_mb()
    print(f"services={args.services} edges={len(topo.calls)} spans={len(spans):,} traces={len({s.trace_id for s in spans}):,} root_cause={root_cause}")
    print(f"build: {build_s:.2f} s with {'validation' if args.validate else 'Span.model_construct'} "
          f"(validated Span(...) runs at {validated_rate:,.0f} spans/s -> {args.spans / validated_rate:.1f} s for {args.spans:,}); "
          f"RSS {rss0:.0f} -> {rss_spans:.0f} MiB ({(rss_spans - rss0) * 2**20 / max(1, len(spans)):.0f} B/span)")
    # The alert fires on the edge service whose traces reach the root cause most often.
    hits: dict[str, int] = {}
    by_trace_root: dict[str, str] = {}
    for s in spans:
        if s.parent_span_id is None:
            by_trace_root[s.trace_id] = s.service
        elif s.service == root_cause:
            hits[by_trace_root.get(s.trace_id, "")] = hits.get(by_trace_root.get(s.trace_id, ""), 0) + 1
    alert_service = max((k for k in hits if k), key=hits.get)
    alert = Alert(fingerprint="scale", name="HighLatency", service=alert_service, starts_at=T0 + timedelta(seconds=ONSET_S + 60))
    window = TimeWindow(start=T0, end=T0 + timedelta(seconds=DURATION_S))
    tri = triage(alert, topo, data_window=window)
    if args.gc_freeze:
        gc.collect()
        gc.freeze()  # the spans become permanent: the collector stops rescanning 1M objects
    profiler = cProfile.Profile() if args.profile else None
    if profiler:
        profiler.enable()
    t = time.perf_counter()
    dep = map_dependencies(topology=topo, spans=spans, metrics=[], changes=[], triage=tri)
    map_s = time.perf_counter() - t
    t = time.perf_counter()
    hyps = correlate(triage=tri, log_report=None, dependency_report=dep, topology=topo)
    corr_s = time.perf_counter() - t
    if profiler:
        profiler.disable()
        profiler.dump_stats(args.profile)
        pstats.Stats(profiler).sort_stats("cumulative").print_stats(25)
    rank = next((i + 1 for i, h in enumerate(hyps) if h.service == root_cause), None)
    total = map_s + corr_s
    print(f"ranking: map_dependencies {map_s:.2f} s + correlate {corr_s:.2f} s = {total:.2f} s "
          f"(target < 10 s: {'MET' if total < 10 else 'MISSED'}); root cause ranked #{rank} of {len(hyps)}, top-3 {[h.service for h in hyps[:3]]}")
    print(f"memory: RSS {_rss_mb():.0f} MiB after ranking ({_rss_mb() - rss_spans:+.0f} MiB over the spans), "
          f"peak RSS {_peak_mb():.0f} MiB (ru_maxrss; the spans themselves {rss_spans - rss0:.0f} MiB)")
    if args.phases:
        del dep, hyps
        bench_phases(spans, tri.incident_window.start)


def bench_phases(spans: list[Span], alert_onset: datetime) -> None:
    """Time the trace analyses of `map_dependencies` one by one (a fresh index, so nothing is cached)."""
    times: list[tuple[str, float]] = []

    def timed(label, fn):
        t = time.perf_counter()
        out = fn()
        times.append((label, time.perf_counter() - t))
        return out

    index = timed("index_spans", lambda: index_spans(spans))
    first, last = min(s.start for s in spans), max(s.start for s in spans)
    onset, _ = timed("detect_onset", lambda: detect_onset(index, earliest=first, latest=last - timedelta(seconds=15), min_side_s=15))
    onset = onset or alert_onset
    timed("compare_spans", lambda: compare_spans(index, onset))
    timed("gap_outliers x2", lambda: (gap_outliers(index, alert_onset), gap_outliers(index, onset)))
    timed("truncation_blame", lambda: truncation_blame(index, onset))
    timed("entry_call_sequences", lambda: entry_call_sequences(index))
    print("phases: " + ", ".join(f"{label} {s:.2f} s" for label, s in times))


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


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    ap.add_argument("--services", type=int, default=1000)
    ap.add_argument("--spans", type=int, default=1_000_000)
    ap.add_argument("--nodes", type=int, default=100_000)
    ap.add_argument("--seed", type=int, default=7)
    ap.add_argument("--repeat", type=int, default=5)
    ap.add_argument("--validate", action="store_true", help="build spans with validation (slow) instead of model_construct")
    ap.add_argument("--profile", metavar="FILE", help="cProfile the ranking into FILE and print the top entries")
    ap.add_argument("--gc-freeze", action="store_true", help="gc.freeze() the built spans before ranking (shows the collector's share)")
    ap.add_argument("--phases", action="store_true", help="after the ranking, time the trace analyses one by one")
    ap.add_argument("--skip-ranking", action="store_true")
    ap.add_argument("--skip-blast", action="store_true")
    args = ap.parse_args()
    print(f"host: {os.cpu_count()} CPUs, load average {os.getloadavg()[0]:.2f} at start (timings scale with it)")
    if not args.skip_blast:
        bench_blast(args)
    if not args.skip_ranking:
        bench_ranking(args)


if __name__ == "__main__":
    main()
