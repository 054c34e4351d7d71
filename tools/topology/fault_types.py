"""Fault-type inference from a service's evidence features (the case-format taxonomy)."""

from __future__ import annotations

from lumos.tools.traces.features import ServiceFeatures


def infer_fault_type(f: ServiceFeatures | None, kind: str = "service") -> dict[str, float]:
    """fault_type -> support (0-1) from which kinds of evidence a service shows.

    CPU -> cpu_saturation; memory -> memory_pressure; network gaps without own-time growth ->
    network_delay; own time growth -> cpu_saturation; stopped calls or originated errors ->
    error_injection; a recent deploy/config change -> bad_deploy/config_change; a datastore
    (`kind` database/cache/queue) under load -> resource_exhaustion.
    """
    if f is None:
        return {}
    s = f.scores
    hints: dict[str, float] = {}

    def add(kind: str, value: float) -> None:
        if value > hints.get(kind, 0.0):
            hints[kind] = round(min(1.0, value), 4)

    add("cpu_saturation", s.get("cpu", 0.0))
    add("cpu_saturation", 0.6 * s.get("self_time", 0.0))
    add("memory_pressure", 0.8 * s.get("memory", 0.0))
    net = max(s.get("net_in", 0.0), s.get("net_out", 0.0))
    # CPU contention also slows a pod's network handling, so clear CPU evidence explains the gaps.
    add("network_delay", net * (1.0 - s.get("cpu", 0.0)))
    add("error_injection", max(s.get("error_origin", 0.0), 0.8 * s.get("calls_changed", 0.0), 0.5 * s.get("errors", 0.0)))
    add("bad_response", 0.3 * s.get("calls_changed", 0.0))
    add("resource_exhaustion", 0.5 * s.get("disk", 0.0))
    add("crash_loop", s.get("restarts", 0.0))
    add("bad_deploy", s.get("change_deploy", 0.0))
    add("config_change", max(s.get("change_config", 0.0), s.get("change_feature_flag", 0.0)))
    add("resource_exhaustion", s.get("change_scale", 0.0) * 0.5)
    if kind in ("database", "cache", "queue"):
        # A datastore that slows or fails under load is exhausted; one that is simply gone is an outage.
        load = s.get("traffic", 0.0)
        add("resource_exhaustion", max(load, 0.5 * s.get("latency", 0.0)))
        add("dependency_outage", 0.8 * s.get("errors", 0.0))
    if not any(v > 0 for v in hints.values()):
        lat = max(s.get("latency", 0.0), s.get("errors", 0.0))
        if lat > 0:
            add("network_delay" if s.get("latency", 0.0) >= s.get("errors", 0.0) else "error_injection", 0.3 * lat)
    return {k: v for k, v in hints.items() if v > 0}
