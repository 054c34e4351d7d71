"""The audit trail: append-only, hash-chained records of everything an incident did.

Each record stores the sha256 of the previous record's canonical JSON (`prev_hash`) and its
own (`hash`); a head table keeps the latest hash per incident. `verify()` detects any edited,
removed, inserted or reordered record, including a removed last record.
"""

from __future__ import annotations

import hashlib
import json
import sqlite3
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import datetime, timezone
from pathlib import Path
from typing import Any

from pydantic import BaseModel

from lumos.tools.domain import AuditEvent

GENESIS = "0" * 64

_SCHEMA = """
CREATE TABLE IF NOT EXISTS audit_events (
    incident_id TEXT NOT NULL,
    seq INTEGER NOT NULL,
    ts TEXT NOT NULL,
    kind TEXT NOT NULL,
    actor TEXT NOT NULL,
    data TEXT NOT NULL,
    prev_hash TEXT NOT NULL,
    hash TEXT NOT NULL,
    dedupe_key TEXT,
    PRIMARY KEY (incident_id, seq)
);
CREATE UNIQUE INDEX IF NOT EXISTS audit_dedupe ON audit_events (incident_id, dedupe_key);
CREATE TABLE IF NOT EXISTS audit_heads (
    incident_id TEXT PRIMARY KEY,
    seq INTEGER NOT NULL,
    hash TEXT NOT NULL
);
"""


def _jsonable(value: Any) -> Any:
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, datetime):
        return value.isoformat()
    if isinstance(value, dict):
        return {str(k): _jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [_jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    return str(value)


def canonical_json(record: dict[str, Any]) -> str:
    """The canonical form that is hashed: sorted keys, no whitespace, UTF-8."""
    return json.dumps(record, sort_keys=True, separators=(",", ":"), ensure_ascii=False)


def record_hash(fields: dict[str, Any]) -> str:
    """sha256 of a record's canonical JSON (every field except `hash` itself)."""
    body = {k: v for k, v in fields.items() if k != "hash"}
    return hashlib.sha256(canonical_json(body).encode()).hexdigest()


def authentic(event: AuditEvent) -> bool:
    """True when one record's stored hash matches its content (it was written by an audit store, not edited)."""
    fields = {"seq": event.seq, "incident_id": event.incident_id, "ts": event.ts.isoformat() if isinstance(event.ts, datetime) else event.ts,
              "kind": event.kind, "actor": event.actor, "data": event.data, "prev_hash": event.prev_hash}
    return record_hash(fields) == event.hash


class VerifyResult(BaseModel):
    """Outcome of verifying one incident's chain."""

    incident_id: str
    ok: bool
    records: int
    problems: list[str]


def new_record(incident_id: str, seq: int, prev: str, kind: str, actor: str, payload: Any) -> tuple[dict[str, Any], str]:
    """The fields of the next record of a chain and their hash (shared by every audit store)."""
    fields = {
        "seq": seq,
        "incident_id": incident_id,
        "ts": datetime.now(timezone.utc).isoformat(),
        "kind": kind,
        "actor": actor,
        "data": payload,
        "prev_hash": prev,
    }
    return fields, record_hash(fields)


def event_from_row(row: tuple) -> AuditEvent:
    """An AuditEvent from a (seq, incident_id, ts, kind, actor, data, prev_hash, hash) row."""
    return AuditEvent(seq=row[0], incident_id=row[1], ts=row[2], kind=row[3], actor=row[4], data=json.loads(row[5]),
                      prev_hash=row[6], hash=row[7])


def check_chain(incident_id: str, rows: list[tuple], head: tuple | None) -> VerifyResult:
    """Recompute a chain from its rows in insertion order and compare with the stored head."""
    problems: list[str] = []
    prev = GENESIS
    for expected_seq, row in enumerate(rows, start=1):
        seq, _, ts, kind, actor, data, prev_hash, stored = row
        fields = {"seq": seq, "incident_id": incident_id, "ts": ts, "kind": kind, "actor": actor,
                  "data": json.loads(data), "prev_hash": prev_hash}
        if seq != expected_seq:
            problems.append(f"record {expected_seq}: sequence number is {seq} (removed or reordered records)")
        if prev_hash != prev:
            problems.append(f"record {seq}: prev_hash does not match the previous record (chain broken)")
        if record_hash(fields) != stored:
            problems.append(f"record {seq}: content does not match its hash (edited)")
        prev = stored
    if head is None:
        if rows:
            problems.append("chain head is missing")
    elif not rows or head[0] != len(rows) or head[1] != prev:
        problems.append(f"chain head says {head[0]} records ending in {head[1][:12]}, found {len(rows)} (records removed)")
    return VerifyResult(incident_id=incident_id, ok=not problems, records=len(rows), problems=problems)


class AuditTrail:
    """Hash-chained audit records in a SQLite file, safe for concurrent writers (threads and processes)."""

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)
        with self._connect() as conn:
            conn.executescript(_SCHEMA)

    @contextmanager
    def _connect(self) -> Iterator[sqlite3.Connection]:
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            yield conn
        finally:
            conn.close()

    def append(
        self,
        incident_id: str,
        kind: str,
        data: dict[str, Any] | None = None,
        *,
        actor: str = "lumos",
        dedupe_key: str | None = None,
    ) -> AuditEvent | None:
        """Append one record; returns None when `dedupe_key` was already recorded (a re-run node)."""
        payload = _jsonable(data or {})
        with self._connect() as conn:
            conn.execute("BEGIN IMMEDIATE")
            try:
                if dedupe_key is not None:
                    seen = conn.execute(
                        "SELECT 1 FROM audit_events WHERE incident_id=? AND dedupe_key=?", (incident_id, dedupe_key)
                    ).fetchone()
                    if seen:
                        conn.execute("ROLLBACK")
                        return None
                head = conn.execute("SELECT seq, hash FROM audit_heads WHERE incident_id=?", (incident_id,)).fetchone()
                seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
                fields, digest = new_record(incident_id, seq, prev, kind, actor, payload)
                conn.execute(
                    "INSERT INTO audit_events (incident_id, seq, ts, kind, actor, data, prev_hash, hash, dedupe_key)"
                    " VALUES (?,?,?,?,?,?,?,?,?)",
                    (incident_id, seq, fields["ts"], kind, actor, canonical_json(payload), prev, digest, dedupe_key),
                )
                conn.execute(
                    "INSERT INTO audit_heads (incident_id, seq, hash) VALUES (?,?,?)"
                    " ON CONFLICT(incident_id) DO UPDATE SET seq=excluded.seq, hash=excluded.hash",
                    (incident_id, seq, digest),
                )
                conn.execute("COMMIT")
            except BaseException:
                conn.execute("ROLLBACK")
                raise
        return AuditEvent(**{**fields, "hash": digest})

    def events(self, incident_id: str) -> list[AuditEvent]:
        """All records of an incident in chain order."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT seq, incident_id, ts, kind, actor, data, prev_hash, hash FROM audit_events"
                " WHERE incident_id=? ORDER BY seq",
                (incident_id,),
            ).fetchall()
        return [event_from_row(r) for r in rows]

    def incidents(self) -> list[str]:
        """Every incident id that has records."""
        with self._connect() as conn:
            return [r[0] for r in conn.execute("SELECT incident_id FROM audit_heads ORDER BY incident_id")]

    def exists(self, incident_id: str) -> bool:
        """True when the incident has at least one record."""
        with self._connect() as conn:
            return conn.execute("SELECT 1 FROM audit_heads WHERE incident_id=?", (incident_id,)).fetchone() is not None

    def authentic(self, event: AuditEvent) -> bool:
        """True when the record's hash matches its content."""
        return authentic(event)

    def verify(self, incident_id: str) -> VerifyResult:
        """Recompute the chain; every problem found is listed (edited, removed, reordered records)."""
        with self._connect() as conn:
            rows = conn.execute(
                "SELECT seq, incident_id, ts, kind, actor, data, prev_hash, hash FROM audit_events"
                " WHERE incident_id=? ORDER BY rowid",
                (incident_id,),
            ).fetchall()
            head = conn.execute("SELECT seq, hash FROM audit_heads WHERE incident_id=?", (incident_id,)).fetchone()
        return check_chain(incident_id, rows, head)
