"""The simulated world's storage: SQLite schema, row <-> model mapping and derived health.

Kept apart from the action semantics (simactions.py) and the backend facade (simenv.py).
"""

from __future__ import annotations

import json
import sqlite3
from collections import deque
from typing import Literal

from pydantic import BaseModel, ConfigDict, Field

DATASTORE_KINDS = frozenset({"database", "cache", "queue"})

SCHEMA = """
CREATE TABLE IF NOT EXISTS sim_worlds (
    world_id TEXT PRIMARY KEY,
    created_at TEXT NOT NULL
);
CREATE TABLE IF NOT EXISTS sim_services (
    world_id TEXT NOT NULL,
    name TEXT NOT NULL,
    kind TEXT NOT NULL,
    replicas INTEGER NOT NULL,
    version TEXT NOT NULL,
    previous_version TEXT,
    config_version TEXT NOT NULL,
    previous_config_version TEXT,
    pool_size INTEGER NOT NULL,
    disk_used_pct REAL NOT NULL,
    shed_percent INTEGER NOT NULL DEFAULT 0,
    restarts INTEGER NOT NULL DEFAULT 0,
    cache_generation INTEGER NOT NULL DEFAULT 0,
    primary_node TEXT,
    drained TEXT NOT NULL DEFAULT '[]',
    PRIMARY KEY (world_id, name)
);
CREATE TABLE IF NOT EXISTS sim_edges (
    world_id TEXT NOT NULL,
    caller TEXT NOT NULL,
    callee TEXT NOT NULL,
    circuit_open INTEGER NOT NULL DEFAULT 0,
    PRIMARY KEY (world_id, caller, callee)
);
CREATE TABLE IF NOT EXISTS sim_faults (
    id INTEGER PRIMARY KEY AUTOINCREMENT,
    world_id TEXT NOT NULL,
    service TEXT NOT NULL,
    fault_type TEXT NOT NULL,
    instance TEXT,
    active INTEGER NOT NULL DEFAULT 1,
    cured_by TEXT
);
CREATE TABLE IF NOT EXISTS sim_ledger (
    world_id TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    seq INTEGER NOT NULL,
    action TEXT NOT NULL,
    params TEXT NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (world_id, idempotency_key)
);
"""

Health = Literal["healthy", "degraded", "unhealthy"]


class Fault(BaseModel):
    """A fault injected into the world (active until an appropriate action cures it)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    service: str
    fault_type: str
    instance: str | None = None
    active: bool = True
    cured_by: str | None = None


class ServiceState(BaseModel):
    """One simulated service as it is now, with its own and its effective (propagated) health."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    name: str
    kind: str
    health: Health = Field(description="From the service's own faults only.")
    effective_health: Health = Field(description="Also degraded when something it calls (through a closed circuit) is unwell.")
    replicas: int
    version: str
    previous_version: str | None
    config_version: str
    previous_config_version: str | None
    pool_size: int
    disk_used_pct: float
    shed_percent: int
    restarts: int
    cache_generation: int
    primary_node: str | None
    drained_instances: list[str]
    callees: list[str]
    callers: list[str]
    open_circuits: list[str] = Field(description="Callees this service no longer calls (circuit open).")
    active_faults: list[str]

    @property
    def error_rate(self) -> float:
        """Simulated error ratio: a logic bug returns wrong data without erroring."""
        if self.health == "unhealthy":
            return 0.002 if self.active_faults == ["bad_response"] else 0.30
        return 0.05 if self.effective_health == "degraded" else 0.002

    @property
    def latency_p99_ms(self) -> float:
        """Simulated p99 latency in milliseconds."""
        if self.health == "unhealthy":
            return 2500.0
        return 800.0 if self.effective_health == "degraded" else 120.0


class WorldState(BaseModel):
    """A snapshot of a whole simulated world."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    world_id: str
    services: list[ServiceState]
    faults: list[Fault]

    def service(self, name: str) -> ServiceState | None:
        """The service called `name`, or None."""
        return next((s for s in self.services if s.name == name), None)

    @property
    def healthy(self) -> bool:
        """True when every service is effectively healthy."""
        return all(s.effective_health == "healthy" for s in self.services)


def read_world(conn: sqlite3.Connection, world_id: str) -> WorldState:
    """Read every table of one world and derive health along the call graph."""
    rows = conn.execute("SELECT * FROM sim_services WHERE world_id=? ORDER BY name", (world_id,)).fetchall()
    edges = conn.execute("SELECT caller, callee, circuit_open FROM sim_edges WHERE world_id=?", (world_id,)).fetchall()
    faults = [
        Fault(service=r["service"], fault_type=r["fault_type"], instance=r["instance"], active=bool(r["active"]), cured_by=r["cured_by"])
        for r in conn.execute("SELECT * FROM sim_faults WHERE world_id=? ORDER BY id", (world_id,))
    ]
    active: dict[str, list[str]] = {}
    for f in faults:
        if f.active:
            active.setdefault(f.service, []).append(f.fault_type)
    callees: dict[str, list[str]] = {}
    callers: dict[str, list[str]] = {}
    open_circuits: dict[str, list[str]] = {}
    for e in edges:
        callees.setdefault(e["caller"], []).append(e["callee"])
        callers.setdefault(e["callee"], []).append(e["caller"])
        if e["circuit_open"]:
            open_circuits.setdefault(e["caller"], []).append(e["callee"])
    effective = _propagate(set(active), callers, open_circuits)
    services = [
        ServiceState(
            name=r["name"], kind=r["kind"],
            health="unhealthy" if r["name"] in active else "healthy",
            effective_health=effective.get(r["name"], "healthy"),
            replicas=r["replicas"], version=r["version"], previous_version=r["previous_version"],
            config_version=r["config_version"], previous_config_version=r["previous_config_version"],
            pool_size=r["pool_size"], disk_used_pct=r["disk_used_pct"], shed_percent=r["shed_percent"],
            restarts=r["restarts"], cache_generation=r["cache_generation"], primary_node=r["primary_node"],
            drained_instances=json.loads(r["drained"]),
            callees=sorted(callees.get(r["name"], [])), callers=sorted(callers.get(r["name"], [])),
            open_circuits=sorted(open_circuits.get(r["name"], [])),
            active_faults=sorted(active.get(r["name"], [])),
        )
        for r in rows
    ]
    return WorldState(world_id=world_id, services=services, faults=faults)


def _propagate(sick: set[str], callers: dict[str, list[str]], open_circuits: dict[str, list[str]]) -> dict[str, Health]:
    """Faulty services are unhealthy; their callers (transitively, except across open circuits) degraded."""
    health: dict[str, Health] = {name: "unhealthy" for name in sick}
    queue = deque(sick)
    while queue:
        callee = queue.popleft()
        for caller in callers.get(callee, []):
            if callee in open_circuits.get(caller, []) or caller in health:
                continue
            health[caller] = "degraded"
            queue.append(caller)
    return health
