"""The server's incident index: alert state (dedup), groups, the run queue and worker claims."""

from __future__ import annotations

import hashlib
import json
import time
from typing import Any, Literal

from pydantic import BaseModel

from lumos.app.server.db import PostgresDatabase, SqliteDatabase
from lumos.tools.domain import Alert

RunState = Literal["queued", "running", "waiting", "done", "failed"]

SCHEMA = """
CREATE TABLE IF NOT EXISTS serve_incidents (
    incident_id TEXT PRIMARY KEY,
    group_key TEXT NOT NULL,
    title TEXT NOT NULL,
    service TEXT,
    severity TEXT NOT NULL,
    source TEXT NOT NULL,
    alert TEXT NOT NULL,
    sources TEXT NOT NULL,
    created_at DOUBLE PRECISION NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL,
    run_state TEXT NOT NULL,
    status TEXT NOT NULL,
    alert_status TEXT NOT NULL,
    alerts_total INTEGER NOT NULL,
    alerts_firing INTEGER NOT NULL,
    pending TEXT,
    decision TEXT,
    claimed_by TEXT,
    ran_by TEXT,
    lease_until DOUBLE PRECISION,
    runs INTEGER NOT NULL DEFAULT 0,
    waiting_since DOUBLE PRECISION,
    error TEXT
);
CREATE INDEX IF NOT EXISTS serve_incidents_queue ON serve_incidents (run_state, created_at);
CREATE TABLE IF NOT EXISTS serve_groups (
    group_key TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    opened_at DOUBLE PRECISION NOT NULL
);
CREATE TABLE IF NOT EXISTS serve_alerts (
    fingerprint TEXT PRIMARY KEY,
    incident_id TEXT NOT NULL,
    status TEXT NOT NULL,
    starts_at TEXT NOT NULL,
    updated_at DOUBLE PRECISION NOT NULL
)
"""

_COLUMNS = (
    "incident_id, group_key, title, service, severity, source, created_at, updated_at, run_state, status,"
    " alert_status, alerts_total, alerts_firing, pending, claimed_by, ran_by, runs, error"
)


class QueueFull(Exception):
    """Too many incidents are waiting for a worker; the sender should retry later."""


class IncidentRow(BaseModel):
    """One incident as the server tracks it (the graph state lives in the checkpointer)."""

    incident_id: str
    group_key: str
    title: str
    service: str | None
    severity: str
    source: str
    created_at: float
    updated_at: float
    run_state: RunState
    status: str
    alert_status: Literal["firing", "resolved"]
    alerts_total: int
    alerts_firing: int
    pending: dict[str, Any] | None
    claimed_by: str | None
    ran_by: str | None
    runs: int
    error: str | None


class AlertOutcome(BaseModel):
    """What intake did with one alert."""

    fingerprint: str
    outcome: Literal["new_incident", "grouped", "duplicate", "resolved", "ignored"]
    incident_id: str | None


class AlertRef(BaseModel):
    """One alert of an incident and where it stands."""

    fingerprint: str
    status: Literal["firing", "resolved"]
    starts_at: str


class Claim(BaseModel):
    """An incident a worker has taken, with what it needs to run it."""

    incident_id: str
    alert: Alert
    sources: dict[str, Any]
    decision: dict[str, Any] | None
    runs: int


def group_key(alert: Alert, labels: list[str]) -> str:
    """The grouping key: a hash of the alert's values for the grouping labels."""
    values = [(name, alert.labels.get(name, "")) for name in labels]
    return hashlib.sha256(json.dumps(values, separators=(",", ":")).encode()).hexdigest()[:24]


def _binding(pending: str | None) -> dict[str, Any]:
    """The gate binding (gate_id, step_index, action, params_hash) of a stored pending request; {} when there is none."""
    request = json.loads(pending) if pending else {}
    return {k: request[k] for k in ("gate_id", "step_index", "action", "params_hash") if k in request}


def _row(values: tuple) -> IncidentRow:
    fields = dict(zip([c.strip() for c in _COLUMNS.split(",")], values))
    fields["pending"] = json.loads(fields["pending"]) if fields["pending"] else None
    return IncidentRow(**fields)


class IncidentStore:
    """Alert dedup, grouping, the bounded run queue and leases, in SQLite or Postgres."""

    def __init__(self, db: SqliteDatabase | PostgresDatabase):
        self.db = db
        self.skip_locked = " FOR UPDATE SKIP LOCKED" if db.dialect == "postgres" else ""
        self.row_lock = " FOR UPDATE" if db.dialect == "postgres" else ""
        db.script(SCHEMA)

    def intake(
        self, alerts: list[Alert], *, group_by: list[str], window_s: float, max_queue: int, sources: dict[str, Any]
    ) -> list[AlertOutcome]:
        """Record a delivery's alerts in one transaction: all stored, or none (QueueFull)."""
        now = time.time()
        outcomes: list[AlertOutcome] = []
        with self.db.transaction(lock_key="lumos-intake") as tx:
            queued = tx.rows("SELECT count(*) FROM serve_incidents WHERE run_state='queued'")[0][0]
            for alert in alerts:
                seen = tx.rows("SELECT incident_id, status FROM serve_alerts WHERE fingerprint=?", (alert.fingerprint,))
                if alert.status == "resolved":
                    outcomes.append(self._resolve(tx, alert, seen[0] if seen else None, now))
                    continue
                if seen and seen[0][1] == "firing":
                    outcomes.append(AlertOutcome(fingerprint=alert.fingerprint, outcome="duplicate", incident_id=seen[0][0]))
                    continue
                key = group_key(alert, group_by)
                group = tx.rows(
                    "SELECT g.incident_id FROM serve_groups g JOIN serve_incidents i ON i.incident_id=g.incident_id"
                    " WHERE g.group_key=? AND g.opened_at>=? AND i.alert_status='firing'",
                    (key, now - window_s),
                )
                if group:
                    incident_id, outcome = group[0][0], "grouped"
                    tx.run(
                        "UPDATE serve_incidents SET alerts_total=alerts_total+1, alerts_firing=alerts_firing+1,"
                        " updated_at=? WHERE incident_id=?",
                        (now, incident_id),
                    )
                else:
                    if queued >= max_queue:
                        raise QueueFull(f"{queued} incidents are waiting for a worker (limit {max_queue})")
                    queued += 1
                    incident_id, outcome = self._open(tx, alert, key, now, sources), "new_incident"
                tx.run(
                    "INSERT INTO serve_alerts (fingerprint, incident_id, status, starts_at, updated_at) VALUES (?,?,?,?,?)"
                    " ON CONFLICT (fingerprint) DO UPDATE SET incident_id=excluded.incident_id, status=excluded.status,"
                    " starts_at=excluded.starts_at, updated_at=excluded.updated_at",
                    (alert.fingerprint, incident_id, "firing", alert.starts_at.isoformat(), now),
                )
                outcomes.append(AlertOutcome(fingerprint=alert.fingerprint, outcome=outcome, incident_id=incident_id))
        return outcomes

    def _open(self, tx: Any, alert: Alert, key: str, now: float, sources: dict[str, Any]) -> str:
        from lumos.graph.runner import new_incident_id

        incident_id = new_incident_id()
        tx.run(
            "INSERT INTO serve_incidents (incident_id, group_key, title, service, severity, source, alert, sources, created_at,"
            " updated_at, run_state, status, alert_status, alerts_total, alerts_firing) VALUES (?,?,?,?,?,?,?,?,?,?,?,?,?,?,?)",
            (incident_id, key, (alert.summary or alert.name)[:300], alert.service, alert.severity, alert.source,
             alert.model_dump_json(), json.dumps(sources), now, now, "queued", "open", "firing", 1, 1),
        )
        tx.run(
            "INSERT INTO serve_groups (group_key, incident_id, opened_at) VALUES (?,?,?) ON CONFLICT (group_key)"
            " DO UPDATE SET incident_id=excluded.incident_id, opened_at=excluded.opened_at",
            (key, incident_id, now),
        )
        return incident_id

    def _resolve(self, tx: Any, alert: Alert, seen: tuple | None, now: float) -> AlertOutcome:
        if seen is None:
            return AlertOutcome(fingerprint=alert.fingerprint, outcome="ignored", incident_id=None)
        incident_id, status = seen
        if status == "resolved":
            return AlertOutcome(fingerprint=alert.fingerprint, outcome="duplicate", incident_id=incident_id)
        tx.run("UPDATE serve_alerts SET status='resolved', updated_at=? WHERE fingerprint=?", (now, alert.fingerprint))
        tx.run(
            "UPDATE serve_incidents SET alerts_firing=alerts_firing-1, updated_at=?,"
            " alert_status=CASE WHEN alerts_firing<=1 THEN 'resolved' ELSE 'firing' END WHERE incident_id=?",
            (now, incident_id),
        )
        return AlertOutcome(fingerprint=alert.fingerprint, outcome="resolved", incident_id=incident_id)

    def claim(self, node_id: str, lease_s: float) -> Claim | None:
        """Take the oldest queued incident (or one whose worker's lease expired); None when idle."""
        now = time.time()
        with self.db.transaction() as tx:
            rows = tx.rows(
                "UPDATE serve_incidents SET run_state='running', claimed_by=?, ran_by=?, lease_until=?, runs=runs+1, updated_at=?"
                " WHERE incident_id = (SELECT incident_id FROM serve_incidents WHERE run_state='queued'"
                " OR (run_state='running' AND lease_until<?) ORDER BY created_at LIMIT 1" + self.skip_locked + ")"
                " RETURNING incident_id, alert, sources, decision, runs",
                (node_id, node_id, now + lease_s, now, now),
            )
        if not rows:
            return None
        incident_id, alert, sources, decision, runs = rows[0]
        return Claim(incident_id=incident_id, alert=Alert.model_validate_json(alert), sources=json.loads(sources),
                     decision=json.loads(decision) if decision else None, runs=runs)

    def heartbeat(self, node_id: str, lease_s: float) -> None:
        """Extend the leases of every incident this process is running."""
        with self.db.transaction() as tx:
            tx.run("UPDATE serve_incidents SET lease_until=? WHERE claimed_by=? AND run_state='running'", (time.time() + lease_s, node_id))

    def progress(self, incident_id: str, node_id: str, status: str) -> None:
        """Record the graph status while a worker runs the incident."""
        with self.db.transaction() as tx:
            tx.run("UPDATE serve_incidents SET status=?, updated_at=? WHERE incident_id=? AND claimed_by=?",
                   (status, time.time(), incident_id, node_id))

    def finish(self, incident_id: str, node_id: str, *, run_state: RunState, status: str,
               pending: dict[str, Any] | None, error: str | None = None) -> bool:
        """Release a claim with where the incident stands; False if another worker took it over."""
        now = time.time()
        with self.db.transaction() as tx:
            return tx.run(
                "UPDATE serve_incidents SET run_state=?, status=?, pending=?, decision=NULL, claimed_by=NULL, lease_until=NULL,"
                " error=?, updated_at=?, waiting_since=? WHERE incident_id=? AND claimed_by=?",
                (run_state, status, json.dumps(pending) if pending else None, error, now,
                 now if run_state == "waiting" else None, incident_id, node_id),
            ) == 1

    def running_claims(self) -> list[tuple[str, str]]:
        """(incident id, claiming node) of every incident some process is running."""
        with self.db.transaction() as tx:
            return [(r[0], r[1]) for r in tx.rows("SELECT incident_id, claimed_by FROM serve_incidents WHERE run_state='running'")]

    def requeue(self, incident_id: str, node_id: str) -> bool:
        """Put an incident claimed by a dead process back in the queue at once (instead of after its lease)."""
        with self.db.transaction() as tx:
            return tx.run("UPDATE serve_incidents SET run_state='queued', claimed_by=NULL, lease_until=NULL"
                          " WHERE incident_id=? AND claimed_by=? AND run_state='running'", (incident_id, node_id)) == 1

    def expire_waiting(self, timeout_s: float) -> list[str]:
        """Queue a timeout for every gate nobody decided within `timeout_s` (a rejection: fail closed); returns the incidents."""
        now = time.time()
        expired = []
        with self.db.transaction() as tx:
            rows = tx.rows("SELECT incident_id, pending FROM serve_incidents WHERE run_state='waiting' AND waiting_since<?"
                           + self.row_lock, (now - timeout_s,))
            for incident_id, pending in rows:
                binding = _binding(pending)
                decision = json.dumps({**binding, "decision": "timeout", "approver": "lumos:timeout",
                                       "comment": f"no decision within {timeout_s:g}s; escalating"})
                if tx.run("UPDATE serve_incidents SET decision=?, run_state='queued', updated_at=? WHERE incident_id=?"
                          " AND run_state='waiting'", (decision, now, incident_id)) == 1:
                    expired.append(incident_id)
        return expired

    def decide(self, incident_id: str, decision: dict[str, Any]) -> Literal["queued", "not_waiting", "other_gate"]:
        """Queue a decision bound to the gate the incident waits at; refused when it waits elsewhere or not at all."""
        with self.db.transaction() as tx:
            rows = tx.rows("SELECT pending FROM serve_incidents WHERE incident_id=? AND run_state='waiting'" + self.row_lock,
                           (incident_id,))
            if not rows:
                return "not_waiting"
            if _binding(rows[0][0]).get("gate_id") != decision.get("gate_id"):
                return "other_gate"
            tx.run("UPDATE serve_incidents SET decision=?, run_state='queued', status='remediating', updated_at=?"
                   " WHERE incident_id=? AND run_state='waiting'", (json.dumps(decision), time.time(), incident_id))
        return "queued"

    def refresh_pending(self, incident_id: str, pending: dict[str, Any]) -> None:
        """Replace a waiting incident's copy of its pending gate (the checkpoint moved on without this server)."""
        with self.db.transaction() as tx:
            tx.run("UPDATE serve_incidents SET pending=?, updated_at=? WHERE incident_id=? AND run_state='waiting'",
                   (json.dumps(pending), time.time(), incident_id))

    def get(self, incident_id: str) -> IncidentRow | None:
        """One incident, or None."""
        with self.db.transaction() as tx:
            rows = tx.rows(f"SELECT {_COLUMNS} FROM serve_incidents WHERE incident_id=?", (incident_id,))
        return _row(rows[0]) if rows else None

    def list_incidents(self, *, status: str | None = None, limit: int = 100, offset: int = 0) -> list[IncidentRow]:
        """Incidents, newest first, optionally only those with a graph status or run state."""
        where, params = ("WHERE status=? OR run_state=?", [status, status]) if status else ("", [])
        with self.db.transaction() as tx:
            rows = tx.rows(
                f"SELECT {_COLUMNS} FROM serve_incidents {where} ORDER BY created_at DESC, incident_id LIMIT ? OFFSET ?",
                (*params, limit, offset),
            )
        return [_row(r) for r in rows]

    def alerts(self, incident_id: str, limit: int = 200) -> list[AlertRef]:
        """The alerts grouped into an incident (at most `limit`)."""
        with self.db.transaction() as tx:
            rows = tx.rows("SELECT fingerprint, status, starts_at FROM serve_alerts WHERE incident_id=? ORDER BY starts_at, fingerprint"
                           " LIMIT ?", (incident_id, limit))
        return [AlertRef(fingerprint=r[0], status=r[1], starts_at=r[2]) for r in rows]

    def counts(self) -> dict[str, int]:
        """Incidents per run state, and alerts stored (for health and benchmarks)."""
        with self.db.transaction() as tx:
            by_state = dict(tx.rows("SELECT run_state, count(*) FROM serve_incidents GROUP BY run_state"))
            alerts = tx.rows("SELECT count(*) FROM serve_alerts")[0][0]
        return {**{k: int(v) for k, v in by_state.items()}, "alerts": int(alerts)}
