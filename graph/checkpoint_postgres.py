"""Checkpointing for a fleet: every incident is a LangGraph thread in Postgres (shared by processes)."""

from __future__ import annotations

from typing import Any

from lumos.graph.checkpoint import make_serializer

_SETUP_LOCK = "lumos-checkpoint-schema"


def open_postgres_checkpointer(url: str, *, max_size: int = 8) -> Any:
    """A PostgresSaver on `url` with LUMOS's serializer; tables are created (once, under a lock) if missing."""
    from langgraph.checkpoint.postgres import PostgresSaver
    from psycopg.rows import dict_row
    from psycopg_pool import ConnectionPool

    pool = ConnectionPool(
        url, min_size=1, max_size=max_size, open=True,
        kwargs={"autocommit": True, "prepare_threshold": 0, "row_factory": dict_row},
    )
    saver = PostgresSaver(pool, serde=make_serializer())
    with pool.connection() as conn:
        conn.execute("SELECT pg_advisory_lock(hashtextextended(%s, 0))", (_SETUP_LOCK,))
        try:
            saver.setup()
        finally:
            conn.execute("SELECT pg_advisory_unlock(hashtextextended(%s, 0))", (_SETUP_LOCK,))
    return saver


def close_postgres_checkpointer(saver: Any) -> None:
    """Close the saver's connection pool."""
    pool = getattr(saver, "conn", None)
    if pool is not None and hasattr(pool, "close"):
        pool.close()
