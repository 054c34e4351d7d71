"""The injected fault: where it is, when it starts, and how it changes one service's behaviour over time."""

from __future__ import annotations

import random
from dataclasses import dataclass
from datetime import datetime, timedelta

from lumos.tools.domain import FaultType

from lumos.evals.generate.system import System

F = FaultType
INSTANCE_FAULTS = (F.cpu_saturation, F.memory_pressure, F.network_delay, F.network_loss, F.crash_loop)
VARIANTS: dict[FaultType, tuple[str, ...]] = {
    F.dependency_outage: ("down", "hung"),
    F.resource_exhaustion: ("db_pool", "thread_pool", "disk_full"),
    F.config_change: ("timeout", "pool", "flag"),
    F.bad_deploy: ("exception", "schema", "slow"),
}


@dataclass(frozen=True)
class Effect:
    """How a fault changes one request served by one instance at one time."""

    self_mult: float = 1.0  # multiplies the service's own processing time
    add_ms: float = 0.0  # extra latency per hop (network delay, waiting for a pool)
    err_p: float = 0.0  # probability that the request fails at this service
    bad_p: float = 0.0  # probability of a wrong-but-successful response
    down: bool = False  # the process is not serving (refused connections)
    hang_ms: float = 0.0  # requests hang this long before anything happens


@dataclass(frozen=True)
class FaultPlan:
    """One injected fault and its parameters."""

    fault_type: FaultType
    root: str
    instance: str | None  # the faulty instance, None when every instance is affected
    start: datetime
    variant: str
    severity: float  # 0.5-1.0
    ramp_s: float
    new_instances: tuple[str, ...] = ()  # bad_deploy/config_change: pods after the rollout
    crash_up_s: float = 40.0
    leak_s: float = 150.0  # memory_pressure: seconds from restart to OOM


def eligible_roots(system: System, fault_type: FaultType, rng: random.Random) -> list[str]:
    """Services where this fault type can sensibly be injected."""
    svcs = system.services.values()
    if fault_type == F.dependency_outage:
        return sorted(s.name for s in svcs if s.kind != "service")
    apps = sorted(s.name for s in svcs if s.kind == "service" and s.tier != "edge")
    if fault_type == F.resource_exhaustion and rng.random() < 0.2:
        return sorted(s.name for s in svcs if s.kind == "database") or apps
    if rng.random() < 0.1 and fault_type not in (F.bad_response, F.resource_exhaustion) or not apps:
        return [system.entry]  # sometimes the symptom's service is the culprit itself
    return apps


def make_plan(rng: random.Random, system: System, fault_type: FaultType, start: datetime, root: str | None,
              variant: str | None = None) -> FaultPlan:
    """Choose the root service (unless given), instance, variant (unless given) and severity of the fault."""
    root = root or rng.choice(eligible_roots(system, fault_type, rng))
    if root not in system.services:
        raise ValueError(f"root {root!r} is not a service of the system: {', '.join(sorted(system.services))}")
    spec = system.services[root]
    instance = None
    if fault_type in INSTANCE_FAULTS and (len(spec.instances) == 1 or rng.random() < 0.7):
        instance = rng.choice(spec.instances)
    variants = VARIANTS.get(fault_type, ("default",))
    chosen = rng.choice(variants)
    if variant is not None and variant not in variants:
        raise ValueError(f"variant {variant!r} is not one of {fault_type.value}'s: {', '.join(variants)}")
    variant = variant or chosen
    if fault_type == F.resource_exhaustion and spec.kind != "service":
        variant = "disk_full"
    elif variant == "db_pool" and not any(system.services[c].kind == "database" for c in system.callees(root)):
        variant = "thread_pool"
    new_instances: tuple[str, ...] = ()
    if fault_type in (F.bad_deploy, F.config_change) and spec.kind == "service":
        rs = f"{rng.getrandbits(36):09x}"
        new_instances = tuple(f"{root}-{rs}-{rng.getrandbits(20):05x}" for _ in spec.instances)
    ramp = {F.memory_pressure: 5.0, F.cpu_saturation: 20.0, F.crash_loop: 0.0}.get(fault_type, rng.uniform(2.0, 30.0))
    return FaultPlan(fault_type, root, instance, start, variant, round(rng.uniform(0.55, 1.0), 2), ramp,
                     new_instances, crash_up_s=rng.uniform(25.0, 60.0), leak_s=rng.uniform(100.0, 200.0))


def instances_at(plan: FaultPlan, service: str, instances: tuple[str, ...], t: datetime) -> tuple[str, ...]:
    """The pods of `service` serving at time t (a rollout replaces them at fault start)."""
    if service == plan.root and plan.new_instances and t >= plan.start:
        return plan.new_instances
    return instances


def crash_down(plan: FaultPlan, t: datetime) -> bool:
    """crash_loop: is the process down at t? Up for a while, then CrashLoopBackOff 10s, 20s, 40s, ... (cap 160s)."""
    elapsed = (t - plan.start).total_seconds()
    if elapsed < 0:
        return False
    cycle_start, backoff = 0.0, 10.0
    while True:
        up_end = cycle_start + plan.crash_up_s * (0.5 if cycle_start else 1.0)
        if elapsed < up_end:
            return False
        if elapsed < up_end + backoff:
            return True
        cycle_start, backoff = up_end + backoff, min(backoff * 2, 160.0)


def crash_times(plan: FaultPlan, end: datetime) -> list[tuple[datetime, datetime]]:
    """crash_loop: (crash, restart) instants until `end`."""
    out: list[tuple[datetime, datetime]] = []
    cycle_start, backoff = 0.0, 10.0
    while plan.start + timedelta(seconds=cycle_start) < end:
        up_end = cycle_start + plan.crash_up_s * (0.5 if cycle_start else 1.0)
        out.append((plan.start + timedelta(seconds=up_end), plan.start + timedelta(seconds=up_end + backoff)))
        cycle_start, backoff = up_end + backoff, min(backoff * 2, 160.0)
    return [c for c in out if c[0] < end]


def heap_fill(plan: FaultPlan, t: datetime) -> tuple[float, bool]:
    """memory_pressure: fraction of the memory limit in use at t, and whether the pod is OOM-killed now."""
    elapsed = (t - plan.start).total_seconds()
    if elapsed < 0:
        return 0.0, False
    cycle = plan.leak_s + 15.0
    phase = elapsed % cycle
    if phase >= plan.leak_s:
        return 0.0, True
    return min(1.0, 0.45 + 0.55 * phase / plan.leak_s), False


def effect_at(plan: FaultPlan, service: str, instance: str, t: datetime) -> Effect:
    """The fault's effect on a request served by `instance` of `service` at t."""
    if service != plan.root or t < plan.start or (plan.instance is not None and instance != plan.instance):
        return Effect()
    i = min(1.0, (t - plan.start).total_seconds() / plan.ramp_s) if plan.ramp_s > 0 else 1.0
    s = plan.severity * i
    ft, v = plan.fault_type, plan.variant
    if ft == F.cpu_saturation:
        return Effect(self_mult=1.0 + 7.0 * s, err_p=0.02 * s)
    if ft == F.memory_pressure:
        fill, killed = heap_fill(plan, t)
        return Effect(down=True) if killed else Effect(self_mult=1.0 + 12.0 * fill ** 4, err_p=0.08 * fill ** 6)
    if ft == F.network_delay:
        return Effect(add_ms=(180.0 + 700.0 * plan.severity) * i)
    if ft == F.network_loss:
        return Effect(err_p=0.2 + 0.3 * s, add_ms=120.0 * s)
    if ft == F.error_injection:
        return Effect(err_p=0.3 + 0.5 * s, self_mult=0.7)
    if ft == F.bad_response:
        return Effect(bad_p=0.35 + 0.45 * s)
    if ft == F.config_change:
        return Effect(err_p={"timeout": 0.5, "pool": 0.25, "flag": 0.45}[v] * (0.5 + s),
                      add_ms=600.0 * s if v == "pool" else 0.0)
    if ft == F.bad_deploy:
        return Effect(err_p=(0.15 if v == "slow" else 0.35 + 0.4 * s), self_mult=4.0 if v == "slow" else 1.2)
    if ft == F.dependency_outage:
        return Effect(down=True) if v == "down" else Effect(hang_ms=4000.0 + 4000.0 * s)
    if ft == F.resource_exhaustion:
        if v == "disk_full":
            return Effect(err_p=0.25 + 0.35 * s, self_mult=1.5)
        return Effect(add_ms=400.0 + 2500.0 * s, err_p=0.2 + 0.3 * s)
    if ft == F.crash_loop:
        return Effect(down=True) if crash_down(plan, t) else Effect(err_p=0.05)
    return Effect()
