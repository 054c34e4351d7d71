"""The audit trail in Postgres: the same records, hash chain and checks as `AuditTrail` (SQLite).

Records are hashed exactly as in `lumos.graph.audit` (same canonical JSON, same fields), so a
chain verifies the same way in either store. Appends to one incident are serialised with a
transaction-scoped advisory lock, so several processes can write the same chain.
"""

from __future__ import annotations

from typing import Any, Protocol

from lumos.graph.audit import GENESIS, VerifyResult, _jsonable, authentic, canonical_json, check_chain, event_from_row, new_record
from lumos.tools.domain import AuditEvent

_SCHEMA = [
    """CREATE TABLE IF NOT EXISTS audit_events (
        id BIGSERIAL PRIMARY KEY,
        incident_id TEXT NOT NULL,
        seq INTEGER NOT NULL,
        ts TEXT NOT NULL,
        kind TEXT NOT NULL,
        actor TEXT NOT NULL,
        data TEXT NOT NULL,
        prev_hash TEXT NOT NULL,
        hash TEXT NOT NULL,
        dedupe_key TEXT,
        UNIQUE (incident_id, seq)
    )""",
    "CREATE UNIQUE INDEX IF NOT EXISTS audit_dedupe ON audit_events (incident_id, dedupe_key)",
    """CREATE TABLE IF NOT EXISTS audit_heads (
        incident_id TEXT PRIMARY KEY,
        seq INTEGER NOT NULL,
        hash TEXT NOT NULL
    )""",
]


class AuditStore(Protocol):
    """What the graph and the server use of an audit trail (SQLite `AuditTrail` or `PostgresAuditTrail`)."""

    def append(self, incident_id: str, kind: str, data: dict[str, Any] | None = None, *, actor: str = "lumos",
               dedupe_key: str | None = None) -> AuditEvent | None:
        """Append one record (None when `dedupe_key` was already recorded)."""
        ...

    def events(self, incident_id: str) -> list[AuditEvent]:
        """All records of an incident in chain order."""
        ...

    def incidents(self) -> list[str]:
        """Every incident id that has records."""
        ...

    def exists(self, incident_id: str) -> bool:
        """True when the incident has at least one record."""
        ...

    def verify(self, incident_id: str) -> VerifyResult:
        """Recompute the chain and list every problem."""
        ...

    def authentic(self, event: AuditEvent) -> bool:
        """True when one record's stored hash matches its content (and key)."""
        ...


class PostgresAuditTrail:
    """Hash-chained audit records in Postgres, safe for concurrent writers in many processes."""

    def __init__(self, pool: Any):
        """`pool` is a psycopg_pool.ConnectionPool (autocommit connections)."""
        self.pool = pool
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended('lumos-audit-schema', 0))")
            for statement in _SCHEMA:
                conn.execute(statement)

    @classmethod
    def connect(cls, url: str, *, max_size: int = 4) -> "PostgresAuditTrail":
        """Open a pool on `url` and create the tables if needed."""
        from psycopg_pool import ConnectionPool

        return cls(ConnectionPool(url, min_size=1, max_size=max_size, open=True, kwargs={"autocommit": True}))

    def close(self) -> None:
        """Close the connection pool."""
        self.pool.close()

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
        with self.pool.connection() as conn, conn.transaction():
            conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", ("audit:" + incident_id,))
            if dedupe_key is not None:
                seen = conn.execute(
                    "SELECT 1 FROM audit_events WHERE incident_id=%s AND dedupe_key=%s", (incident_id, dedupe_key)
                ).fetchone()
                if seen:
                    return None
            head = conn.execute("SELECT seq, hash FROM audit_heads WHERE incident_id=%s", (incident_id,)).fetchone()
            seq, prev = (head[0] + 1, head[1]) if head else (1, GENESIS)
            fields, digest = new_record(incident_id, seq, prev, kind, actor, payload)
            conn.execute(
                "INSERT INTO audit_events (incident_id, seq, ts, kind, actor, data, prev_hash, hash, dedupe_key)"
                " VALUES (%s,%s,%s,%s,%s,%s,%s,%s,%s)",
                (incident_id, seq, fields["ts"], kind, actor, canonical_json(payload), prev, digest, dedupe_key),
            )
            conn.execute(
                "INSERT INTO audit_heads (incident_id, seq, hash) VALUES (%s,%s,%s)"
                " ON CONFLICT (incident_id) DO UPDATE SET seq=excluded.seq, hash=excluded.hash",
                (incident_id, seq, digest),
            )
        return AuditEvent(**{**fields, "hash": digest})

    def _rows(self, incident_id: str, order: str) -> list[tuple]:
        with self.pool.connection() as conn:
            return conn.execute(
                "SELECT seq, incident_id, ts, kind, actor, data, prev_hash, hash FROM audit_events"
                f" WHERE incident_id=%s ORDER BY {order}",
                (incident_id,),
            ).fetchall()

    def events(self, incident_id: str) -> list[AuditEvent]:
        """All records of an incident in chain order."""
        return [event_from_row(r) for r in self._rows(incident_id, "seq")]

    def incidents(self) -> list[str]:
        """Every incident id that has records."""
        with self.pool.connection() as conn:
            return [r[0] for r in conn.execute("SELECT incident_id FROM audit_heads ORDER BY incident_id").fetchall()]

    def exists(self, incident_id: str) -> bool:
        """True when the incident has at least one record."""
        with self.pool.connection() as conn:
            return conn.execute("SELECT 1 FROM audit_heads WHERE incident_id=%s", (incident_id,)).fetchone() is not None

    def authentic(self, event: AuditEvent) -> bool:
        """True when the record's hash matches its content."""
        return authentic(event)

    def verify(self, incident_id: str) -> VerifyResult:
        """Recompute the chain in insertion order; every problem found is listed."""
        rows = self._rows(incident_id, "id")
        with self.pool.connection() as conn:
            head = conn.execute("SELECT seq, hash FROM audit_heads WHERE incident_id=%s", (incident_id,)).fetchone()
        return check_chain(incident_id, rows, head)
