"""The simulated environment backend: a small world of services persisted in a SQLite file.

One world per incident (world id = incident id). It survives process restarts, so an
incident paused at an approval gate resumes in a new process against the same world. Faults
from a case's truth make services unhealthy; unhealthy callees degrade their callers; only an
appropriate action on the right service cures a fault (table in remedies.py). Every executed
action is recorded in an idempotency ledger in the same transaction as its world change, so a
repeated key replays the recorded outcome instead of acting twice.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterable, Mapping, Sequence
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from lumos.tools.actions.backend import CheckResult, ExecutionOutcome
from lumos.tools.actions.registry import (
    ActionRegistry,
    CheckRegistry,
    ParamsError,
    default_action_registry,
    default_check_registry,
)
from lumos.tools.actions.simactions import ActionFailed, apply_action, run_check
from lumos.tools.actions.simstate import SCHEMA, Fault, WorldState, read_world
from lumos.tools.domain import Change, FaultType, RootCause, Topology
from lumos.tools.errors import LumosError

FaultLike = RootCause | Fault | tuple[str, str] | tuple[str, str, str | None]


class WorldError(LumosError):
    """The world cannot be seeded or used as asked (already exists, unknown service, ...)."""


def _now() -> datetime:
    return datetime.now(timezone.utc)


class SimulatedEnvironment:
    """An action backend over one simulated world stored in a SQLite file."""

    name = "simulated"

    def __init__(self, conn: sqlite3.Connection, world_id: str, *, actions: ActionRegistry, checks: CheckRegistry):
        self._conn = conn
        self.world_id = world_id
        self.actions = actions
        self.checks = checks

    @classmethod
    def open(cls, db_path: str | Path, world_id: str, *, actions: ActionRegistry | None = None,
             checks: CheckRegistry | None = None) -> "SimulatedEnvironment":
        """Open (creating the file and tables if needed) the world `world_id` in `db_path`."""
        conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=30.0)
        conn.row_factory = sqlite3.Row
        conn.execute("PRAGMA journal_mode=WAL")
        conn.executescript(SCHEMA)
        return cls(conn, world_id, actions=actions or default_action_registry(), checks=checks or default_check_registry())

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def __enter__(self) -> "SimulatedEnvironment":
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    # --- world set-up ----------------------------------------------------------------------

    @property
    def exists(self) -> bool:
        """True once the world has been seeded."""
        row = self._conn.execute("SELECT 1 FROM sim_worlds WHERE world_id=?", (self.world_id,)).fetchone()
        return row is not None

    def seed(self, topology: Topology, faults: Iterable[FaultLike] = (), *,
             versions: Mapping[str, str | tuple[str, str | None]] | None = None,
             previous_versions: Mapping[str, str] | None = None, changes: Sequence[Change] = (), replicas: int = 2,
             pool_size: int = 20, replace: bool = False) -> WorldState:
        """Create the world from a topology, inject `faults`, and return its state.

        Versions come from `versions` (service -> version or (version, previous)) and
        `previous_versions`, else from deploy and config
        `changes`, else defaults ("1.0.0", config "cfg-1"). A service with a bad_deploy or
        config_change fault and no known earlier version gets one, so the remedy is possible.
        Raises WorldError if the world exists and `replace` is False.
        """
        previous_versions = dict(previous_versions or {})
        flat: dict[str, str] = {}
        for svc, value in (versions or {}).items():
            if isinstance(value, tuple):
                flat[svc] = value[0]
                if value[1]:
                    previous_versions[svc] = value[1]
            else:
                flat[svc] = value
        versions = flat
        configs: dict[str, tuple[str, str | None]] = {}
        for ch in sorted(changes, key=lambda c: c.ts):
            if ch.kind == "deploy" and ch.version:
                previous_versions.setdefault(ch.service, ch.previous_version or versions.get(ch.service, "1.0.0"))
                versions.setdefault(ch.service, ch.version)
            elif ch.kind == "config":
                label = ch.version or f"cfg-{ch.ts:%Y%m%d%H%M%S}"
                configs[ch.service] = (label, ch.previous_version or "cfg-1")
        fault_list = [_as_fault(f) for f in faults]
        names = topology.service_names()
        kinds = {s.name: s.kind for s in topology.services}
        with self._tx():
            if self.exists:
                if not replace:
                    raise WorldError(f"world {self.world_id!r} already exists; pass replace=True to re-seed it")
                for table in ("sim_worlds", "sim_services", "sim_edges", "sim_faults", "sim_ledger"):
                    self._conn.execute(f"DELETE FROM {table} WHERE world_id=?", (self.world_id,))
            self._conn.execute("INSERT INTO sim_worlds VALUES (?, ?)", (self.world_id, _now().isoformat()))
            for name in names:
                kinds_here = {f.fault_type for f in fault_list if f.service == name}
                version = versions.get(name, "1.1.0" if FaultType.bad_deploy in kinds_here else "1.0.0")
                previous = previous_versions.get(name)
                if previous is None and FaultType.bad_deploy in kinds_here:
                    previous = "1.0.0" if version != "1.0.0" else "0.9.0"
                config, prev_config = configs.get(name, ("cfg-2", "cfg-1") if FaultType.config_change in kinds_here else ("cfg-1", None))
                disk = 96.0 if FaultType.resource_exhaustion in kinds_here else 40.0
                self._conn.execute(
                    "INSERT INTO sim_services (world_id, name, kind, replicas, version, previous_version, config_version,"
                    " previous_config_version, pool_size, disk_used_pct) VALUES (?,?,?,?,?,?,?,?,?,?)",
                    (self.world_id, name, kinds.get(name, "service"), replicas, version, previous, config, prev_config, pool_size, disk),
                )
            for edge in {(e.caller, e.callee) for e in topology.calls if e.caller != e.callee}:
                self._conn.execute("INSERT INTO sim_edges (world_id, caller, callee) VALUES (?,?,?)", (self.world_id, *edge))
            for fault in fault_list:
                self._insert_fault(fault, names)
        return self.state()

    def inject_fault(self, service: str, fault_type: FaultType | str, *, instance: str | None = None) -> WorldState:
        """Make `service` suffer `fault_type` (until an appropriate action cures it)."""
        with self._tx():
            names = [r["name"] for r in self._conn.execute("SELECT name FROM sim_services WHERE world_id=?", (self.world_id,))]
            self._insert_fault(Fault(service=service, fault_type=FaultType(fault_type).value, instance=instance), names)
        return self.state()

    def _insert_fault(self, fault: Fault, names: Sequence[str]) -> None:
        if fault.service not in names:
            raise WorldError(f"cannot inject {fault.fault_type}: unknown service {fault.service!r}; known: {', '.join(sorted(names))}")
        self._conn.execute(
            "INSERT INTO sim_faults (world_id, service, fault_type, instance) VALUES (?,?,?,?)",
            (self.world_id, fault.service, fault.fault_type, fault.instance),
        )

    # --- reading ---------------------------------------------------------------------------

    def state(self) -> WorldState:
        """A snapshot of the whole world (services with derived health, faults)."""
        return read_world(self._conn, self.world_id)

    def history(self) -> list[ExecutionOutcome]:
        """Every recorded (non-dry-run) action outcome, oldest first."""
        rows = self._conn.execute("SELECT outcome FROM sim_ledger WHERE world_id=? ORDER BY seq", (self.world_id,))
        return [ExecutionOutcome.model_validate_json(r["outcome"]) for r in rows]

    # --- the backend protocol --------------------------------------------------------------

    def execute(self, action: str, params: dict[str, Any], *, idempotency_key: str, dry_run: bool = False) -> ExecutionOutcome:
        """Run `action` once per `idempotency_key`: world change and ledger record commit together."""
        started = _now()
        try:
            clean = self.actions.validate(action, params).model_dump(mode="json", exclude_none=True)
        except ParamsError as exc:
            return ExecutionOutcome(action=action, params=dict(params), status="failed", output=f"rejected: {exc}",
                                    idempotency_key=idempotency_key, started_at=started, finished_at=_now())
        if dry_run:
            return ExecutionOutcome(action=action, params=clean, status="dry_run", idempotency_key=idempotency_key,
                                    output=f"would run {action} with {json.dumps(clean, sort_keys=True)}",
                                    started_at=started, finished_at=_now())
        with self._tx():
            row = self._conn.execute("SELECT action, params, outcome FROM sim_ledger WHERE world_id=? AND idempotency_key=?",
                                     (self.world_id, idempotency_key)).fetchone()
            if row is not None:
                if row["action"] != action or json.loads(row["params"]) != clean:
                    return ExecutionOutcome(action=action, params=clean, status="failed", idempotency_key=idempotency_key,
                                            output=f"idempotency key {idempotency_key!r} was already used for {row['action']} "
                                                   "with other parameters; nothing was run",
                                            started_at=started, finished_at=_now())
                return ExecutionOutcome.model_validate_json(row["outcome"]).model_copy(update={"replayed": True})
            if not self.exists:
                return ExecutionOutcome(action=action, params=clean, status="failed", idempotency_key=idempotency_key,
                                        output=f"simulated world {self.world_id!r} has not been seeded; nothing was run",
                                        started_at=started, finished_at=_now())
            try:
                output, status = apply_action(self._conn, self.world_id, action, clean, idempotency_key), "ok"
            except ActionFailed as exc:
                output, status = str(exc), "failed"
            outcome = ExecutionOutcome(action=action, params=clean, status=status, output=output,
                                       idempotency_key=idempotency_key, started_at=started, finished_at=_now())
            seq = self._conn.execute("SELECT COALESCE(MAX(seq), 0) + 1 FROM sim_ledger WHERE world_id=?", (self.world_id,)).fetchone()[0]
            self._conn.execute("INSERT INTO sim_ledger VALUES (?,?,?,?,?,?)",
                               (self.world_id, idempotency_key, seq, action, json.dumps(clean, sort_keys=True), outcome.model_dump_json()))
        return outcome

    def check(self, name: str, params: dict[str, Any]) -> CheckResult:
        """Evaluate a registered read-only check against the current world."""
        try:
            clean = self.checks.validate(name, params).model_dump(mode="json", exclude_none=True)
        except ParamsError as exc:
            return CheckResult(check=name, ok=False, detail=f"rejected: {exc}")
        return run_check(self.state(), name, clean)

    # --- internals -------------------------------------------------------------------------

    def _tx(self) -> "_Transaction":
        return _Transaction(self._conn)


class _Transaction:
    """BEGIN IMMEDIATE ... COMMIT (ROLLBACK on any exception), for one writer at a time."""

    def __init__(self, conn: sqlite3.Connection):
        self._conn = conn

    def __enter__(self) -> None:
        self._conn.execute("BEGIN IMMEDIATE")

    def __exit__(self, exc_type: object, *rest: object) -> None:
        self._conn.execute("ROLLBACK" if exc_type else "COMMIT")


def _as_fault(value: FaultLike) -> Fault:
    """Normalise the accepted fault spellings to a Fault."""
    if isinstance(value, Fault):
        return value
    if isinstance(value, RootCause):
        return Fault(service=value.service, fault_type=FaultType(value.fault_type).value, instance=value.instance)
    service, fault_type, *rest = value
    return Fault(service=service, fault_type=FaultType(fault_type).value, instance=rest[0] if rest else None)
