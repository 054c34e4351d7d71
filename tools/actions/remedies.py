"""Which action cures which fault in the simulated environment, and on which service.

The table follows one principle: an action cures a fault only when it removes the fault's
mechanism, applied to the service that has the fault.

| fault_type          | curing actions (parameter that must name the faulty service)            |
|---------------------|-------------------------------------------------------------------------|
| crash_loop          | restart_service (service)                                               |
| memory_pressure     | restart_service (service) — a restart frees leaked memory               |
| cpu_saturation      | scale_service up (service), restart_service (runaway thread), shed_load |
| network_delay/loss  | drain_instance (service; the instance must match when the fault names one), circuit_break (dependency) |
| error_injection     | rollback_deploy, restart_service (service)                              |
| bad_response        | rollback_deploy, restart_service, clear_cache (service; stale/poisoned data) |
| config_change       | revert_config (service)                                                 |
| bad_deploy          | rollback_deploy (service) to the previous version                      |
| dependency_outage   | failover_database (service, must be a datastore); circuit_break (dependency = the down service, or service = the caller whose dependency is down) |
| resource_exhaustion | set_connection_pool raised, free_disk, shed_load (service)              |

Everything else an action does still changes the world (versions, replicas, circuits) but
leaves the fault in place.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from lumos.tools.domain import FaultType

F = FaultType

CURES: Mapping[FaultType, Mapping[str, tuple[str, ...]]] = {
    F.crash_loop: {"restart_service": ("service",)},
    F.memory_pressure: {"restart_service": ("service",)},
    F.cpu_saturation: {"scale_service": ("service",), "restart_service": ("service",), "shed_load": ("service",)},
    F.network_delay: {"drain_instance": ("service",), "circuit_break": ("dependency",)},
    F.network_loss: {"drain_instance": ("service",), "circuit_break": ("dependency",)},
    F.error_injection: {"rollback_deploy": ("service",), "restart_service": ("service",)},
    F.bad_response: {"rollback_deploy": ("service",), "restart_service": ("service",), "clear_cache": ("service",)},
    F.config_change: {"revert_config": ("service",)},
    F.bad_deploy: {"rollback_deploy": ("service",)},
    F.dependency_outage: {"failover_database": ("service",), "circuit_break": ("dependency", "service")},
    F.resource_exhaustion: {"set_connection_pool": ("service",), "free_disk": ("service",), "shed_load": ("service",)},
}


def cures(fault_type: str, fault_service: str, fault_instance: str | None, action: str, params: Mapping[str, Any],
          *, effect: Mapping[str, Any]) -> bool:
    """True when running `action` with `params` (and its observed `effect`) cures this fault.

    `effect` carries what the action actually did where that matters: `scaled_up`,
    `pool_raised`, `rolled_back_to_previous`, `reverted_to_previous`.
    """
    roles = CURES.get(FaultType(fault_type), {}).get(action)
    if not roles or not any(params.get(role) == fault_service for role in roles):
        return False
    if action == "scale_service":
        return bool(effect.get("scaled_up"))
    if action == "set_connection_pool":
        return bool(effect.get("pool_raised"))
    if action == "shed_load":
        return int(params.get("percent", 0)) > 0
    if action == "rollback_deploy" and fault_type == FaultType.bad_deploy:
        return bool(effect.get("rolled_back_to_previous"))
    if action == "revert_config":
        return bool(effect.get("reverted_to_previous"))
    if action == "drain_instance" and fault_instance is not None:
        return params.get("instance") == fault_instance
    if action == "circuit_break" and fault_type != FaultType.dependency_outage:
        return params.get("dependency") == fault_service
    return True
