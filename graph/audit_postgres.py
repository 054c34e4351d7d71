"""The audit trail in Postgres: the same `AuditTrail` (records, keyed chains, index, anchors) on a shared database.

Only the storage differs from SQLite: a connection pool, `%s` placeholders, and transaction-scoped
advisory locks that serialise appends to one chain across every process of a fleet. Every process
must use the same audit key (LUMOS_AUDIT_KEY), or their records would not verify on each other.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager
from typing import Any

from lumos.graph.audit import ADDED_COLUMNS, SCHEMA, SERIAL, AuditStore, AuditTrail
from lumos.graph.audit_keys import AuditKey

__all__ = ["AuditStore", "PostgresAuditStore", "PostgresAuditTrail"]


class _PgTx:
    def __init__(self, conn: Any):
        self.conn = conn

    def rows(self, sql: str, params: tuple = ()) -> list[tuple]:
        """Execute (`?` becomes `%s`) and fetch every row."""
        cur = self.conn.execute(sql.replace("?", "%s"), params)
        return cur.fetchall() if cur.description else []

    def run(self, sql: str, params: tuple = ()) -> None:
        """Execute (`?` becomes `%s`)."""
        self.conn.execute(sql.replace("?", "%s"), params)

    def lock(self, name: str) -> None:
        """Take a transaction-scoped advisory lock on `name`."""
        self.conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (name,))


class PostgresAuditStore:
    """A psycopg pool (autocommit connections; each transaction explicit)."""

    insertion_order = "id"

    def __init__(self, pool: Any):
        self.pool = pool

    @contextmanager
    def transaction(self, lock: str | None = None) -> Iterator[_PgTx]:
        """A transaction; with `lock`, serialised with every other holder of that lock."""
        with self.pool.connection() as conn, conn.transaction():
            tx = _PgTx(conn)
            if lock is not None:
                tx.lock(lock)
            yield tx

    def migrate(self) -> None:
        """Create the tables (with an id column for insertion order) and add missing columns, once per fleet at a time."""
        with self.transaction(lock="lumos-audit-schema") as tx:
            for statement in SCHEMA:
                tx.run(statement.replace("{serial}", SERIAL["postgres"]))
            for table, column, kind in ADDED_COLUMNS:
                tx.run(f"ALTER TABLE {table} ADD COLUMN IF NOT EXISTS {column} {kind}")

    def close(self) -> None:
        """Close the pool."""
        self.pool.close()


class PostgresAuditTrail(AuditTrail):
    """`AuditTrail` on Postgres."""

    @classmethod
    def connect(cls, url: str, key: AuditKey, *, max_size: int = 4) -> "PostgresAuditTrail":
        """Open a pool on `url` and create or upgrade the tables."""
        from psycopg_pool import ConnectionPool

        pool = ConnectionPool(url, min_size=1, max_size=max_size, open=True, kwargs={"autocommit": True})
        return cls(PostgresAuditStore(pool), key)
