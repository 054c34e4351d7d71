"""A small SQL layer over SQLite (one process) and Postgres (a fleet): the server's tables and the live span/change stores."""

from __future__ import annotations

import sqlite3
import threading
from collections.abc import Iterator, Sequence
from contextlib import contextmanager
from pathlib import Path
from typing import Any, Protocol


class Tx(Protocol):
    """One open transaction."""

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Execute and fetch every row (`?` placeholders)."""
        ...

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute; return the number of rows changed."""
        ...

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute once per parameter row (bulk insert)."""
        ...


class Database(Protocol):
    """What the store needs: transactions, a dialect name, and the per-dialect lock clauses."""

    dialect: str

    def transaction(self, lock_key: str | None = None) -> Any:
        """A context manager yielding a Tx; commits on success, rolls back on error."""
        ...

    def script(self, sql: str) -> None:
        """Run a multi-statement schema script."""
        ...

    def close(self) -> None:
        """Release connections."""
        ...


class _SqliteTx:
    def __init__(self, conn: sqlite3.Connection):
        self.conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Execute and fetch every row."""
        return self.conn.execute(sql, tuple(params)).fetchall()

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute; return the number of rows changed."""
        return self.conn.execute(sql, tuple(params)).rowcount

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute once per parameter row."""
        self.conn.executemany(sql, rows)


class SqliteDatabase:
    """One SQLite file; writers are serialised (BEGIN IMMEDIATE), which makes claims atomic."""

    dialect = "sqlite"

    def __init__(self, path: str | Path):
        Path(path).parent.mkdir(parents=True, exist_ok=True)
        self._conn = sqlite3.connect(str(path), isolation_level=None, check_same_thread=False, timeout=30)
        self._conn.execute("PRAGMA journal_mode=WAL")
        self._conn.execute("PRAGMA synchronous=NORMAL")
        self._lock = threading.RLock()

    @contextmanager
    def transaction(self, lock_key: str | None = None) -> Iterator[_SqliteTx]:
        """A write transaction; `lock_key` is implied by SQLite's single writer."""
        with self._lock:
            self._conn.execute("BEGIN IMMEDIATE")
            try:
                yield _SqliteTx(self._conn)
            except BaseException:
                self._conn.execute("ROLLBACK")
                raise
            self._conn.execute("COMMIT")

    def script(self, sql: str) -> None:
        """Run a multi-statement schema script."""
        with self._lock:
            self._conn.executescript(sql)

    def close(self) -> None:
        """Close the connection."""
        self._conn.close()


class _PgTx:
    def __init__(self, conn: Any):
        self.conn = conn

    def rows(self, sql: str, params: Sequence[Any] = ()) -> list[tuple]:
        """Execute (`?` becomes `%s`) and fetch every row."""
        cur = self.conn.execute(sql.replace("?", "%s"), tuple(params))
        return cur.fetchall() if cur.description else []

    def run(self, sql: str, params: Sequence[Any] = ()) -> int:
        """Execute (`?` becomes `%s`); return the number of rows changed."""
        return self.conn.execute(sql.replace("?", "%s"), tuple(params)).rowcount

    def many(self, sql: str, rows: Sequence[Sequence[Any]]) -> None:
        """Execute once per parameter row (`?` becomes `%s`)."""
        with self.conn.cursor() as cur:
            cur.executemany(sql.replace("?", "%s"), [tuple(r) for r in rows])


class PostgresDatabase:
    """A connection pool on one Postgres database; `lock_key` takes a transaction advisory lock."""

    dialect = "postgres"

    def __init__(self, url: str, *, max_size: int = 8):
        from psycopg_pool import ConnectionPool

        self.pool = ConnectionPool(url, min_size=1, max_size=max_size, open=True, kwargs={"autocommit": True})

    @contextmanager
    def transaction(self, lock_key: str | None = None) -> Iterator[_PgTx]:
        """A transaction; with `lock_key`, concurrent transactions on the same key are serialised."""
        with self.pool.connection() as conn:
            with conn.transaction():
                if lock_key is not None:
                    conn.execute("SELECT pg_advisory_xact_lock(hashtextextended(%s, 0))", (lock_key,))
                yield _PgTx(conn)

    def script(self, sql: str) -> None:
        """Run a multi-statement schema script (serialised across processes)."""
        with self.transaction(lock_key="lumos-serve-schema") as tx:
            for statement in (s.strip() for s in sql.split(";")):
                if statement:
                    tx.run(statement)

    def close(self) -> None:
        """Close the pool."""
        self.pool.close()


def open_database(url: str | None, sqlite_path: Path) -> SqliteDatabase | PostgresDatabase:
    """Postgres for a postgresql:// URL, else the SQLite file."""
    if url and url.startswith(("postgresql://", "postgres://")):
        return PostgresDatabase(url)
    return SqliteDatabase(sqlite_path)
