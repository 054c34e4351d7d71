"""What each registered action and check does to / reads from the simulated world.

Action functions run inside the caller's transaction; they raise `ActionFailed` for a request
the world refuses (unknown service, nothing to roll back to, ...) and otherwise return the
output line plus the `effect` facts the cure table needs (see remedies.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Callable, Mapping
from typing import Any

from lumos.tools.actions.backend import CheckResult
from lumos.tools.actions.remedies import cures
from lumos.tools.actions.simstate import DATASTORE_KINDS, ServiceState, WorldState, read_world

Effect = dict[str, Any]


class ActionFailed(Exception):
    """The simulated world refused the action; the message says why."""


def _service(world: WorldState, name: str) -> ServiceState:
    svc = world.service(name)
    if svc is None:
        known = ", ".join(s.name for s in world.services) or "none"
        raise ActionFailed(f"unknown service {name!r}; known services: {known}")
    return svc


def _update(conn: sqlite3.Connection, world_id: str, service: str, **values: Any) -> None:
    cols = ", ".join(f"{k}=?" for k in values)
    conn.execute(f"UPDATE sim_services SET {cols} WHERE world_id=? AND name=?", (*values.values(), world_id, service))


def _restart(conn, wid, world, p) -> tuple[str, Effect]:
    svc = _service(world, p["service"])
    _update(conn, wid, svc.name, restarts=svc.restarts + 1)
    what = f"instance {p['instance']}" if p.get("instance") else f"all {svc.replicas} replicas"
    return f"restarted {what} of {svc.name}", {}


def _scale(conn, wid, world, p) -> tuple[str, Effect]:
    svc = _service(world, p["service"])
    new = p["replicas"] if p.get("replicas") is not None else svc.replicas + p["delta"]
    if new < 1:
        raise ActionFailed(f"{svc.name} would have {new} replicas; at least 1 is required")
    _update(conn, wid, svc.name, replicas=new)
    return f"scaled {svc.name} from {svc.replicas} to {new} replicas", {"scaled_up": new > svc.replicas}


def _rollback(conn, wid, world, p) -> tuple[str, Effect]:
    svc = _service(world, p["service"])
    target = p.get("to_version") or svc.previous_version
    if target is None:
        raise ActionFailed(f"{svc.name} has no previous version recorded to roll back to (running {svc.version})")
    if target == svc.version:
        raise ActionFailed(f"{svc.name} already runs {target}")
    _update(conn, wid, svc.name, version=target, previous_version=svc.version)
    return f"rolled {svc.name} back from {svc.version} to {target}", {"rolled_back_to_previous": target == svc.previous_version}


def _revert_config(conn, wid, world, p) -> tuple[str, Effect]:
    svc = _service(world, p["service"])
    target = p.get("to_config_version") or svc.previous_config_version
    if target is None:
        raise ActionFailed(f"{svc.name} has no previous config version to restore (at {svc.config_version})")
    if target == svc.config_version:
        raise ActionFailed(f"{svc.name} config is already {target}")
    _update(conn, wid, svc.name, config_version=target, previous_config_version=svc.config_version)
    return f"reverted {svc.name} config from {svc.config_version} to {target}", {"reverted_to_previous": target == svc.previous_config_version}


def _failover(conn, wid, world, p) -> tuple[str, Effect]:
    svc = _service(world, p["service"])
    if svc.kind not in DATASTORE_KINDS:
        raise ActionFailed(f"{svc.name} is a {svc.kind}, not a database/cache/queue; failover does not apply")
    node = p.get("replica") or f"{svc.name}-replica-1"
    _update(conn, wid, svc.name, primary_node=node)
    return f"promoted {node} to primary of {svc.name}", {}


def _free_disk(conn, wid, world, p) -> tuple[str, Effect]:
    svc = _service(world, p["service"])
    new = min(svc.disk_used_pct, 45.0)
    _update(conn, wid, svc.name, disk_used_pct=new)
    return f"freed disk on {svc.name} under {p.get('path', '/var/log')}: {svc.disk_used_pct:.0f}% -> {new:.0f}% used", {}


def _pool(conn, wid, world, p) -> tuple[str, Effect]:
    svc = _service(world, p["service"])
    _update(conn, wid, svc.name, pool_size=p["size"])
    return f"set {svc.name} connection pool {svc.pool_size} -> {p['size']}", {"pool_raised": p["size"] > svc.pool_size}


def _shed(conn, wid, world, p) -> tuple[str, Effect]:
    svc = _service(world, p["service"])
    _update(conn, wid, svc.name, shed_percent=p["percent"])
    return f"{svc.name} now sheds {p['percent']}% of low-priority requests", {}


def _circuit(conn, wid, world, p) -> tuple[str, Effect]:
    svc = _service(world, p["service"])
    dep = _service(world, p["dependency"])
    if dep.name not in svc.callees:
        raise ActionFailed(f"{svc.name} does not call {dep.name}; its callees: {', '.join(svc.callees) or 'none'}")
    conn.execute("UPDATE sim_edges SET circuit_open=1 WHERE world_id=? AND caller=? AND callee=?", (wid, svc.name, dep.name))
    return f"opened circuit {svc.name} -> {dep.name}", {}


def _clear_cache(conn, wid, world, p) -> tuple[str, Effect]:
    svc = _service(world, p["service"])
    _update(conn, wid, svc.name, cache_generation=svc.cache_generation + 1)
    scope = f"keys under {p['prefix']!r}" if p.get("prefix") else "all keys"
    return f"invalidated {scope} of {svc.name}", {}


def _drain(conn, wid, world, p) -> tuple[str, Effect]:
    svc = _service(world, p["service"])
    drained = sorted(set(svc.drained_instances) | {p["instance"]})
    _update(conn, wid, svc.name, drained=json.dumps(drained))
    return f"drained {p['instance']} of {svc.name}; a fresh instance replaces it", {}


def _diagnostics(conn, wid, world, p) -> tuple[str, Effect]:
    svc = _service(world, p["service"])
    return (f"collected {', '.join(p.get('kinds') or ['logs', 'metrics'])} of {svc.name}: health={svc.effective_health} "
            f"replicas={svc.replicas} version={svc.version} config={svc.config_version} errors={svc.error_rate:.1%} "
            f"p99={svc.latency_p99_ms:.0f}ms disk={svc.disk_used_pct:.0f}%"), {}


def _notify(conn, wid, world, p) -> tuple[str, Effect]:
    return f"posted to {p.get('channel', '#incidents')}: {p['message'][:200]}", {}


ACTIONS: Mapping[str, Callable[[sqlite3.Connection, str, WorldState, dict[str, Any]], tuple[str, Effect]]] = {
    "restart_service": _restart, "scale_service": _scale, "rollback_deploy": _rollback, "revert_config": _revert_config,
    "failover_database": _failover, "free_disk": _free_disk, "set_connection_pool": _pool, "shed_load": _shed,
    "circuit_break": _circuit, "clear_cache": _clear_cache, "drain_instance": _drain,
    "collect_diagnostics": _diagnostics, "notify": _notify,
}


def apply_action(conn: sqlite3.Connection, world_id: str, action: str, params: dict[str, Any], key: str) -> str:
    """Apply one validated action inside the open transaction and cure the faults it remedies."""
    world = read_world(conn, world_id)
    output, effect = ACTIONS[action](conn, world_id, world, params)
    cured = []
    rows = conn.execute("SELECT id, service, fault_type, instance FROM sim_faults WHERE world_id=? AND active=1", (world_id,))
    for row in rows.fetchall():
        if cures(row["fault_type"], row["service"], row["instance"], action, params, effect=effect):
            conn.execute("UPDATE sim_faults SET active=0, cured_by=? WHERE id=?", (f"{action} [{key}]", row["id"]))
            cured.append(f"{row['fault_type']} on {row['service']}")
    if cured:
        output += "; cleared " + ", ".join(cured)
    return output


def run_check(world: WorldState, name: str, p: Mapping[str, Any]) -> CheckResult:
    """Evaluate one validated check against a world snapshot."""
    svc = world.service(p["service"]) if "service" in p else None
    if svc is None:
        known = ", ".join(s.name for s in world.services) or "none"
        return CheckResult(check=name, ok=False, detail=f"unknown service {p.get('service')!r}; known services: {known}")
    if name == "service_exists":
        return CheckResult(check=name, ok=True, detail=f"{svc.name} exists ({svc.kind})")
    if name == "service_healthy":
        return CheckResult(check=name, ok=svc.effective_health == "healthy", detail=f"{svc.name} is {svc.effective_health}"
                           + (f" (faults: {', '.join(svc.active_faults)})" if svc.active_faults else ""))
    if name == "fault_cleared":
        return CheckResult(check=name, ok=not svc.active_faults, detail=f"{svc.name} active faults: {', '.join(svc.active_faults) or 'none'}")
    if name == "replicas_at_least":
        return CheckResult(check=name, ok=svc.replicas >= p["replicas"], detail=f"{svc.name} has {svc.replicas} replicas (want >= {p['replicas']})")
    if name == "version_is":
        return CheckResult(check=name, ok=svc.version == p["version"], detail=f"{svc.name} runs {svc.version} (want {p['version']})")
    if name == "has_previous_version":
        return CheckResult(check=name, ok=svc.previous_version is not None, detail=f"{svc.name} previous version: {svc.previous_version or 'none'}")
    if name == "has_previous_config":
        return CheckResult(check=name, ok=svc.previous_config_version is not None,
                           detail=f"{svc.name} previous config: {svc.previous_config_version or 'none'}")
    if name == "error_rate_below":
        return CheckResult(check=name, ok=svc.error_rate < p["threshold"], detail=f"{svc.name} error rate {svc.error_rate:.1%} (want < {p['threshold']:.1%})")
    if name == "latency_p99_below":
        return CheckResult(check=name, ok=svc.latency_p99_ms < p["threshold_ms"],
                           detail=f"{svc.name} p99 {svc.latency_p99_ms:.0f} ms (want < {p['threshold_ms']:.0f} ms)")
    if name == "disk_usage_below":
        return CheckResult(check=name, ok=svc.disk_used_pct < p["percent"], detail=f"{svc.name} disk {svc.disk_used_pct:.0f}% (want < {p['percent']:.0f}%)")
    if name == "is_datastore":
        return CheckResult(check=name, ok=svc.kind in DATASTORE_KINDS, detail=f"{svc.name} is a {svc.kind}")
    return CheckResult(check=name, ok=False, detail=f"check {name!r} is not implemented by the simulated environment")
