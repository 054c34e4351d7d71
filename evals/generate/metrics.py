"""Per-minute metric samples: RED metrics per service (from simulated traffic) and container metrics per pod
(CPU, memory, restart count)."""

from __future__ import annotations

import math
import random
from collections import defaultdict
from datetime import datetime, timedelta

from lumos.tools.domain import FaultType, TimeWindow

from lumos.evals.generate.faults import FaultPlan, crash_down, crash_times, effect_at, heap_fill, instances_at
from lumos.evals.generate.system import System
from lumos.evals.generate.traces import TraceOut, TraceSimulator, pick_endpoint, schedule

F = FaultType
SAMPLE_TRACES_PER_MIN = 70.0
MEMORY_BASE = {"java": (700, 1300), "go": (60, 180), "python": (180, 420), "node": (150, 350),
               "database": (1500, 3500), "cache": (250, 900), "queue": (900, 1600)}


def _pct(values: list[float], q: float) -> float:
    ordered = sorted(values)
    return ordered[min(len(ordered) - 1, int(math.ceil(q * len(ordered))) - 1)]


def grid(window: TimeWindow) -> list[datetime]:
    """Sample times: whole minutes inside the window (each summarises the minute before it)."""
    first = window.start.replace(second=0, microsecond=0) + timedelta(minutes=1)
    out = []
    while first < window.end:
        out.append(first)
        first += timedelta(minutes=1)
    return out


def metric_rows(system: System, plan: FaultPlan, window: TimeWindow, rng: random.Random) -> list[tuple]:
    """(ts, service, instance, metric, value) rows for the whole window."""
    times = grid(window)
    sim = TraceSimulator(system, plan, rng, TraceOut())
    for t in schedule(rng, times[0] - timedelta(minutes=1), times[-1], SAMPLE_TRACES_PER_MIN):
        sim.run(pick_endpoint(rng, system.endpoints), t)
    hops: dict[tuple[datetime, str], list[tuple[float, bool, str]]] = defaultdict(list)
    for s in sim.out.spans:
        bucket = s["start"].replace(second=0, microsecond=0) + timedelta(minutes=1)
        hops[(bucket, s["service"])].append((s["duration_ms"], s["status"] == "ERROR", s["instance"]))
    edge_rps = rng.uniform(20.0, 90.0)
    rows: list[tuple] = []
    distractor = rng.choice(sorted(n for n in system.services if n != plan.root))
    d_start = window.start + timedelta(seconds=rng.uniform(0, window.seconds * 0.8))
    d_len = timedelta(minutes=rng.uniform(3, 6))
    state = {(n, i): _base_state(rng, system.services[n].lang) for n, s in system.services.items()
             for i in s.instances + (plan.new_instances if n == plan.root else ())}
    restarts = {key: 0 if key[1] in plan.new_instances else rng.choice([0, 0, 0, 0, 1, 2]) for key in state}
    for ts in times:
        for name, spec in sorted(system.services.items()):
            samples = hops.get((ts, name), [])
            if samples:
                durs = [d for d, _, _ in samples]
                errs = sum(1 for _, e, _ in samples if e)
                rate = len(samples) / SAMPLE_TRACES_PER_MIN * edge_rps * rng.uniform(0.95, 1.05)
                rows += [(ts, name, "", "request_rate", round(rate, 2)),
                         (ts, name, "", "error_rate", round(errs / len(samples), 4)),
                         (ts, name, "", "latency_p90_ms", round(_pct(durs, 0.90) * rng.uniform(0.95, 1.05), 2)),
                         (ts, name, "", "latency_p99_ms", round(_pct(durs, 0.99) * rng.uniform(0.97, 1.1), 2))]
            else:
                rows.append((ts, name, "", "request_rate", 0.0))
            mid = ts - timedelta(seconds=30)
            for inst in instances_at(plan, name, spec.instances, mid):
                eff = effect_at(plan, name, inst, mid)
                if eff.down and (plan.fault_type != F.crash_loop or rng.random() < 0.5):
                    continue  # the scrape failed: no sample this minute
                base_cpu, base_mem = state[(name, inst)]
                share = sum(1 for *_, i in samples if i == inst) / max(1.0, len(samples) / len(spec.instances))
                cpu = base_cpu * (0.7 + 0.3 * min(share, 2.0)) + rng.gauss(0, 1.5)
                mem = base_mem * (1 + rng.gauss(0, 0.01))
                cpu, mem = _fault_resources(plan, name, inst, mid, cpu, mem, eff.down, rng)
                if name == distractor and d_start <= ts < d_start + d_len:
                    cpu += rng.uniform(20, 35)
                rows += [(ts, name, inst, "cpu_usage_pct", round(min(100.0, max(0.3, cpu)), 2)),
                         (ts, name, inst, "memory_usage_mb", round(mem, 1)),
                         (ts, name, inst, "container_restarts_total", float(restarts[(name, inst)] + _restarts(plan, name, inst, ts)))]
    return rows


def _restarts(plan: FaultPlan, name: str, inst: str, t: datetime) -> int:
    """How often the fault has restarted this pod by t (crash loop crashes, OOM kills)."""
    if name != plan.root or t < plan.start or (plan.instance is not None and inst != plan.instance):
        return 0
    if plan.fault_type == F.crash_loop:
        return sum(1 for crash, _ in crash_times(plan, t) if crash <= t)
    if plan.fault_type == F.memory_pressure:
        cycle = plan.leak_s + 15.0
        return int(((t - plan.start).total_seconds() + cycle - plan.leak_s) // cycle)
    return 0


def _base_state(rng: random.Random, lang: str) -> tuple[float, float]:
    lo, hi = MEMORY_BASE.get(lang, (200, 600))
    return rng.uniform(6.0, 35.0), rng.uniform(lo, hi)


def _fault_resources(plan: FaultPlan, name: str, inst: str, t: datetime, cpu: float, mem: float, down: bool,
                     rng: random.Random) -> tuple[float, float]:
    """Apply the fault's footprint on CPU and memory of the faulty pod."""
    if name != plan.root or t < plan.start or (plan.instance is not None and inst != plan.instance):
        return cpu, mem
    ft = plan.fault_type
    ramp = min(1.0, (t - plan.start).total_seconds() / max(plan.ramp_s, 1.0))
    if ft == F.cpu_saturation:
        return cpu + (rng.uniform(88, 99) - cpu) * ramp, mem
    if ft == F.memory_pressure:
        fill = heap_fill(plan, t)[0]
        return cpu + 35.0 * fill ** 3, max(mem, 2048.0 * fill * rng.uniform(0.97, 1.0))
    if ft == F.crash_loop:
        return (cpu * 2.2 if not crash_down(plan, t) else 1.0), mem * rng.uniform(0.3, 0.6)
    if ft == F.resource_exhaustion and plan.variant == "thread_pool":
        return cpu * 1.6, mem * 1.25
    if ft == F.error_injection:
        return cpu * 0.85, mem
    if ft == F.bad_deploy:
        return cpu * (1.8 if plan.variant == "slow" else 1.1), mem * 1.15
    return cpu, mem
