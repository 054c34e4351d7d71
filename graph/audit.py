"""The audit trail: append-only, keyed hash chains of everything an incident did, in SQLite or Postgres.

One `AuditTrail` class holds the logic for both stores (`SqliteAuditStore` here, `PostgresAuditStore` in
`audit_postgres`); a store only supplies transactions, locks and its SQL dialect. Record MACs, chain
checks and anchors live in `audit_chain`; the key in `audit_keys`. Secrets are redacted before a
record is written: the trail is readable by every viewer.
"""

from __future__ import annotations

import json
import sqlite3
from collections.abc import Iterator
from contextlib import AbstractContextManager, contextmanager
from pathlib import Path
from typing import Any, Protocol

from pydantic import BaseModel

from lumos.graph.audit_chain import (
    GENESIS,
    INDEX_ID,
    ROW_COLUMNS,
    Anchor,
    VerifyResult,
    canonical_json,
    check_anchor,
    check_chain,
    head_mac,
    make_anchor,
    now_iso,
    record_body,
    record_digest,
)
from lumos.graph.audit_keys import ALG, AuditKey, load_audit_key
from lumos.tools.domain import AuditEvent
from lumos.tools.redact import redact_value

__all__ = ["AuditTrail", "AuditStore", "SqliteAuditStore", "VerifyResult", "Anchor", "GENESIS", "INDEX_ID", "canonical_json"]

SCHEMA = [
    """CREATE TABLE IF NOT EXISTS audit_events (
        {serial}incident_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts TEXT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        dedupe_key TEXT,
        PRIMARY KEY (incident_id, seq)
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS audit_dedupe ON audit_events (incident_id, dedupe_key)",
    """CREATE TABLE IF NOT EXISTS audit_heads (
        incident_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
    )""",
]
SERIAL = {"sqlite": "", "postgres": "id BIGSERIAL UNIQUE, "}
"""The insertion-order column each store adds to audit_events (SQLite has rowid)."""
ADDED_COLUMNS = [("audit_events", "alg", "TEXT"), ("audit_events", "key_id", "TEXT"), ("audit_heads", "mac", "TEXT")]
"""Columns added since the first schema (NULL in records written before audit keys: legacy sha256)."""


def jsonable(value: Any) -> Any:
    """A JSON-ready copy of `value` (pydantic models dumped, datetimes as ISO text)."""
    if isinstance(value, BaseModel):
        return value.model_dump(mode="json")
    if isinstance(value, dict):
        return {str(k): jsonable(v) for k, v in value.items()}
    if isinstance(value, (list, tuple, set)):
        return [jsonable(v) for v in value]
    if isinstance(value, (str, int, float, bool)) or value is None:
        return value
    if hasattr(value, "isoformat"):
        return value.isoformat()
    return str(value)


def event_from_row(row: tuple) -> AuditEvent:
    """An AuditEvent from a row of ROW_COLUMNS."""
    return AuditEvent(seq=row[0], incident_id=row[1], ts=row[2], kind=row[3], actor=row[4], data=json.loads(row[5]),
                      prev_hash=row[6], hash=row[7], alg=row[8], key_id=row[9])


class Tx(Protocol):
    """One open transaction of a store (`?` placeholders)."""

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Execute and fetch every row."""
        ...

    def run(self, sql: str, params: tuple = ()) -> None:
        """Execute."""
        ...

    def lock(self, name: str) -> None:
        """Also serialise on `name` until the transaction ends."""
        ...


class AuditStore(Protocol):
    """Where the records live: transactions (serialised per lock name) and the SQL that differs."""

    insertion_order: str
    """The column that orders rows as they were inserted (verification reads in this order)."""

    def transaction(self, lock: str | None = None) -> AbstractContextManager[Tx]:
        """A transaction; writers holding the same `lock` are serialised."""
        ...

    def migrate(self) -> None:
        """Create the tables and add missing columns."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class AuditTrail:
    """Keyed hash-chained audit records, safe for concurrent writers (threads and processes)."""

    def __init__(self, store: "AuditStore | str | Path", key: AuditKey | None = None):
        """`store` is an AuditStore or a SQLite file path; without `key`, the key file next to the SQLite file is used."""
        if isinstance(store, (str, Path)):
            path = Path(store)
            key = key or load_audit_key(path.parent)
            store = SqliteAuditStore(path)
        if key is None:
            raise ValueError("an audit store needs an audit key")
        self.store, self.key = store, key
        self.store.migrate()

    @property
    def path(self) -> Path | None:
        """The SQLite file, when the trail lives in one."""
        return getattr(self.store, "path", None)

    def close(self) -> None:
        """Release the store's connections."""
        self.store.close()

    # -- writing ------------------------------------------------------------------------------------
    def append(self, incident_id: str, kind: str, data: Any = None, *, actor: str = "lumos",
               dedupe_key: str | None = None) -> AuditEvent | None:
        """Append one record (secrets redacted); returns None when `dedupe_key` was already recorded (a re-run node)."""
        payload = redact_value(jsonable(data or {}))
        with self.store.transaction(lock="audit:" + incident_id) as tx:
            if dedupe_key is not None and tx.rows("SELECT 1 FROM audit_events WHERE incident_id=? AND dedupe_key=?",
                                                  (incident_id, dedupe_key)):
                return None
            event = self._insert(tx, incident_id, kind, actor, payload, dedupe_key)
            if event.seq == 1 and incident_id != INDEX_ID:  # same transaction: an incident never exists without its index entry
                tx.lock("audit:" + INDEX_ID)
                self._insert(tx, INDEX_ID, "incident.indexed", "lumos", {"incident_id": incident_id, "first_hash": event.hash}, None)
        return event

    def _insert(self, tx: Tx, incident_id: str, kind: str, actor: str, payload: Any, dedupe_key: str | None) -> AuditEvent:
        head = tx.rows("SELECT seq, hash FROM audit_heads WHERE incident_id=?", (incident_id,))
        seq, prev = (head[0][0] + 1, head[0][1]) if head else (1, GENESIS)
        ts = now_iso()
        digest = record_digest(record_body(incident_id, seq, ts, kind, actor, payload, prev), ALG, self.key)
        tx.run("INSERT INTO audit_events (incident_id, seq, ts, kind, actor, data, prev_hash, hash, dedupe_key, alg, key_id)"
               " VALUES (?,?,?,?,?,?,?,?,?,?,?)",
               (incident_id, seq, ts, kind, actor, canonical_json(payload), prev, digest, dedupe_key, ALG, self.key.key_id))
        tx.run("INSERT INTO audit_heads (incident_id, seq, hash, mac) VALUES (?,?,?,?) ON CONFLICT (incident_id)"
               " DO UPDATE SET seq=excluded.seq, hash=excluded.hash, mac=excluded.mac",
               (incident_id, seq, digest, head_mac(self.key, incident_id, seq, digest)))
        return AuditEvent(seq=seq, incident_id=incident_id, ts=ts, kind=kind, actor=actor, data=payload, prev_hash=prev,
                          hash=digest, alg=ALG, key_id=self.key.key_id)

    # -- reading ------------------------------------------------------------------------------------
    def _rows(self, incident_id: str, order: str = "seq") -> list[tuple]:
        with self.store.transaction() as tx:
            return tx.rows(f"SELECT {ROW_COLUMNS} FROM audit_events WHERE incident_id=? ORDER BY {order}", (incident_id,))

    def events(self, incident_id: str) -> list[AuditEvent]:
        """All records of an incident in chain order."""
        return [event_from_row(r) for r in self._rows(incident_id)]

    def incidents(self) -> list[str]:
        """Every incident id that has records (the index chain not included)."""
        with self.store.transaction() as tx:
            return [r[0] for r in tx.rows("SELECT incident_id FROM audit_heads WHERE incident_id<>? ORDER BY incident_id", (INDEX_ID,))]

    def exists(self, incident_id: str) -> bool:
        """True when the incident has at least one record."""
        with self.store.transaction() as tx:
            return bool(tx.rows("SELECT 1 FROM audit_heads WHERE incident_id=?", (incident_id,)))

    def indexed(self) -> dict[str, tuple[int, str]]:
        """Incident id -> (seq of its index record, hash of its first record): every incident opened with audit keys."""
        out: dict[str, tuple[int, str]] = {}
        for row in self._rows(INDEX_ID):
            entry = json.loads(row[5])
            if isinstance(entry.get("incident_id"), str):
                out.setdefault(entry["incident_id"], (row[0], str(entry.get("first_hash"))))
        return out

    def known(self, incident_id: str) -> bool:
        """True when the incident has records or the index says it had some (a deleted incident is known)."""
        return self.exists(incident_id) or incident_id in self.indexed()

    def authentic(self, event: AuditEvent) -> bool:
        """True when one record is signed with this trail's key and unchanged (gates trust only such records)."""
        if event.alg != ALG or event.key_id != self.key.key_id:
            return False
        body = record_body(event.incident_id, event.seq, event.ts.isoformat(), event.kind, event.actor, event.data, event.prev_hash)
        return record_digest(body, ALG, self.key) == event.hash

    # -- verifying ----------------------------------------------------------------------------------
    def verify(self, incident_id: str, indexed: dict[str, tuple[int, str]] | None = None) -> VerifyResult:
        """Recompute the chain; every problem found is listed (edited, removed, reordered, unkeyed or deleted records)."""
        indexed = self.indexed() if indexed is None else indexed
        rows = self._rows(incident_id, self.store.insertion_order)
        with self.store.transaction() as tx:
            head = tx.rows("SELECT seq, hash, mac FROM audit_heads WHERE incident_id=?", (incident_id,))
        result = check_chain(incident_id, rows, head[0] if head else None, self.key,
                             keyed_era=incident_id in indexed or incident_id == INDEX_ID)
        entry = indexed.get(incident_id)
        if entry is not None and not rows:
            result.problems.append(f"incident deleted: the index recorded its opening (index record {entry[0]}) but it has no records now")
        elif entry is not None and rows[0][7] != entry[1]:
            result.problems.append(f"record 1 is not the one the index recorded when the incident opened (index record {entry[0]}; rewritten)")
        elif entry is None and rows and incident_id != INDEX_ID and rows[0][8] == ALG:
            result.problems.append("incident missing from the index (its index record was removed, or the chain was planted)")
        result.ok = not result.problems
        return result

    def verify_all(self) -> list[VerifyResult]:
        """Verify the index chain and every incident it or the heads name (deleted incidents included)."""
        indexed = self.indexed()
        names = sorted(set(self.incidents()) | set(indexed))
        return [self.verify(INDEX_ID, indexed)] + [self.verify(name, indexed) for name in names]

    def heads(self) -> dict[str, tuple[int, str]]:
        """Every chain's (records, head hash), the index included."""
        with self.store.transaction() as tx:
            return {r[0]: (int(r[1]), r[2]) for r in tx.rows("SELECT incident_id, seq, hash FROM audit_heads")}

    def anchor(self) -> Anchor:
        """An anchor of every chain head now, signed with the key: publish it outside the trail."""
        return make_anchor(self.heads(), self.key)

    def check_anchor(self, anchor: Anchor) -> list[str]:
        """Truncations, rewrites and deletions since `anchor` was made (plus problems with the anchor itself)."""
        now: dict[str, tuple[int, str | None]] = {}
        with self.store.transaction() as tx:
            for chain, (seq, _) in anchor.heads.items():
                count = int(tx.rows("SELECT count(*) FROM audit_events WHERE incident_id=?", (chain,))[0][0])
                at = tx.rows("SELECT hash FROM audit_events WHERE incident_id=? AND seq=?", (chain, seq))
                now[chain] = (count, at[0][0] if at else None)
        return check_anchor(anchor, now, self.key)


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Execute and fetch every row."""
        return self.conn.execute(sql, params).fetchall()

    def run(self, sql: str, params: tuple = ()) -> None:
        """Execute."""
        self.conn.execute(sql, params)

    def lock(self, name: str) -> None:
        """Nothing to do: a write transaction (BEGIN IMMEDIATE) already excludes every other writer."""


class SqliteAuditStore:
    """One SQLite file (WAL); writers are serialised by BEGIN IMMEDIATE, across threads and processes."""

    insertion_order = "rowid"

    def __init__(self, path: str | Path):
        self.path = Path(path)
        self.path.parent.mkdir(parents=True, exist_ok=True)

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[_SqliteTx]:
        """A transaction on its own connection; with `lock`, a write transaction (BEGIN IMMEDIATE)."""
        conn = sqlite3.connect(self.path, timeout=30, isolation_level=None)
        try:
            conn.execute("PRAGMA journal_mode=WAL")
            conn.execute("BEGIN IMMEDIATE" if lock else "BEGIN")
            try:
                yield _SqliteTx(conn)
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            conn.execute("COMMIT")
        finally:
            conn.close()

    def migrate(self) -> None:
        """Create the tables, then add the columns later versions need."""
        with self.transaction(lock="schema") as tx:
            for statement in SCHEMA:
                tx.run(statement.replace("{serial}", SERIAL["sqlite"]))
            for table, column, kind in ADDED_COLUMNS:
                if column not in {r[1] for r in tx.rows(f"PRAGMA table_info({table})")}:
                    tx.run(f"ALTER TABLE {table} ADD COLUMN {column} {kind}")

    def close(self) -> None:
        """Nothing to release (a connection per transaction)."""
