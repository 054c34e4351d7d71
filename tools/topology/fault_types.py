"""Fault-type inference from a service's evidence features (the case-format taxonomy)."""

from __future__ import annotations

import math

from lumos.tools.diagnosis_model import DEFAULT_MODEL, FaultTypeWeights
from lumos.tools.traces.features import ServiceFeatures

DATASTORE_KINDS = ("database", "cache", "queue")


def _log_move(ratio: float | None) -> float:
    """How far a level moved, as |log2(incident / baseline)| (0 when unknown)."""
    return abs(math.log2(ratio)) if ratio and ratio > 0 and math.isfinite(ratio) else 0.0


def infer_fault_type(f: ServiceFeatures | None, kind: str = "service", w: FaultTypeWeights = DEFAULT_MODEL.fault_types) -> dict[str, float]:
    """fault_type -> support (0-1) from which kinds of evidence a service shows.

    CPU, or own slowness with CPU not measured flat -> cpu_saturation (with flat CPU, latency the
    service measures itself while its calls out are no slower is still starvation; span self time
    alone is likelier waiting on something untraced -> network_delay); memory that stands out ->
    memory_pressure; network gaps -> network_delay; errors that come with much slower calls
    (timeouts) -> network_loss; errors that originate here or stopped calls -> error_injection
    (dependency_outage for a datastore); restarts -> crash_loop; pool/disk exhaustion ->
    resource_exhaustion; a change just before the onset -> bad_deploy/config_change. Memory
    that grows through the incident (a leak), nears its limit or comes with restarts is memory
    pressure even when CPU rises too (paging and garbage collection burn CPU); CPU that rises
    with memory flat is CPU saturation. Support below the noise floor names nothing: with only
    symptoms (latency, errors) the evidence does not say which kind of fault it is, and the
    caller reports `unknown`.
    """
    if f is None:
        return {}
    s = f.scores
    hints: dict[str, float] = {}

    def add(fault: str, value: float) -> None:
        if value > hints.get(fault, 0.0):
            hints[fault] = round(min(1.0, value), 4)

    # Own slowness (span self time, latency the service measures on its incoming calls) means its
    # processing got slower; a delay on the network into it only widens the gap around it. With
    # CPU measured and flat, the two kinds of own slowness part ways: span self time is likelier
    # waiting on something untraced (a slow network to a database), while latency the service
    # measures itself, with its outgoing calls no slower, is starvation that contention or
    # throttling keep out of the container's own CPU usage.
    self_time, server = s.get("self_time", 0.0), s.get("server_latency", 0.0)
    own = max(self_time, server)
    cpu = s.get("cpu", 0.0)
    cpu_flat = "cpu" in f.observed and cpu < 0.2
    net_out = s.get("net_out", 0.0)
    # Memory pressure and CPU saturation both slow a service, and either drags the other along
    # (garbage collection and paging burn CPU; a busy process allocates). The resource under
    # pressure is the one whose level moved further relative to its own baseline (log ratio): a
    # CPU hog's CPU jumps tenfold while its memory creeps up, a leak or a memory hog grows memory
    # far more than its CPU. Each keeps full support while it moved at least as far as the other.
    growth = s.get("memory_growth", 0.0)
    mem_move = max(_log_move(f.ratios.get("memory")), _log_move(f.ratios.get("memory_growth")))
    cpu_move = _log_move(f.ratios.get("cpu"))
    mem_share = mem_move / (mem_move + cpu_move) if mem_move + cpu_move > 0 else 0.5
    memory_lead = max(growth, s.get("memory", 0.0)) * min(1.0, 2.0 * mem_share)
    cpu_lead = cpu * min(1.0, 2.0 * (1.0 - mem_share))
    if cpu_flat:
        add("cpu_saturation", max(cpu_lead, 0.7 * server * (1.0 - 0.7 * net_out), 0.21 * self_time))
    else:
        add("cpu_saturation", max(cpu_lead, 0.7 * own * (1.0 - memory_lead)))
    add("memory_pressure", w.memory_weight * memory_lead)
    memory = max(growth, s.get("memory", 0.0))
    net = max(s.get("net_in", 0.0), net_out)
    add("network_delay", net * (1.0 - cpu) * (1.0 - 0.7 * own))
    if cpu_flat:
        add("network_delay", 0.6 * max(self_time, server * net_out))
    origin = s.get("error_origin", 0.0)  # errors seen to start here, not merely passing through
    slow = max(s.get("latency", 0.0), own, net)
    # Requests cut short after the service's own events (its expected next events never came) were
    # thrown out of, even when nothing was logged.
    thrown = max(s.get("error_origin", 0.0), 0.8 * s.get("calls_changed", 0.0), 0.6 * s.get("missing_events", 0.0))
    # Errors that come with much slower calls are timeouts (lost packets, refused connections);
    # errors that come fast are thrown.
    add("network_loss", 0.9 * min(origin, slow))
    add("error_injection", thrown * (1.0 - 0.5 * slow))
    add("bad_response", 0.3 * s.get("calls_changed", 0.0))
    add("resource_exhaustion", max(0.8 * s.get("pool", 0.0), 0.6 * s.get("disk", 0.0)))
    # Restarts with memory growth are OOM kills (memory pressure); restarts alone are a crash loop.
    restarts = s.get("restarts", 0.0)
    add("crash_loop", restarts * (1.0 - 0.6 * memory))
    add("memory_pressure", min(restarts, memory))
    if kind in DATASTORE_KINDS:
        # A datastore does not throw application errors: failing, it is an outage; slowing under
        # load, it is exhausted.
        add("dependency_outage", max(origin, 0.8 * s.get("errors", 0.0), hints.pop("error_injection", 0.0), hints.pop("network_loss", 0.0)))
        add("resource_exhaustion", max(s.get("traffic", 0.0), 0.5 * s.get("latency", 0.0)))
    # A change that landed on the service just before the onset is the trigger; errors, CPU or
    # memory growth are then how the change shows, so they yield to it.
    change = max((v for k, v in s.items() if k.startswith("change_")), default=0.0)
    if change > 0:
        for fault in ("error_injection", "bad_response", "cpu_saturation", "memory_pressure", "crash_loop", "network_loss"):
            if fault in hints:
                hints[fault] = round(hints[fault] * (1.0 - 0.5 * change), 4)
    add("bad_deploy", s.get("change_deploy", 0.0))
    add("config_change", max(s.get("change_config", 0.0), s.get("change_feature_flag", 0.0)))
    add("resource_exhaustion", s.get("change_scale", 0.0) * 0.5)
    return {k: v for k, v in hints.items() if v >= w.noise_floor}
