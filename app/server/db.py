"""The server's SQL layer lives in `lumos.tools.sqldb` (the live span and change stores share it); plus the start-up check."""

from lumos.tools.errors import InputError
from lumos.tools.sqldb import Database, PostgresDatabase, SqliteDatabase, Tx, open_database

__all__ = ["Database", "PostgresDatabase", "SqliteDatabase", "Tx", "check_postgres", "open_database"]


def check_postgres(url: str, timeout_s: float = 5.0) -> None:
    """Connect once with a short timeout; an unreachable or refusing database is one InputError naming where, not a
    pool timeout traceback 30 s later."""
    import psycopg
    from psycopg.conninfo import conninfo_to_dict

    try:
        target = conninfo_to_dict(url)
    except psycopg.ProgrammingError as exc:
        raise InputError(f"not a valid Postgres URL: {str(exc).splitlines()[0]}", field="LUMOS_DATABASE_URL") from None
    where = f"{target.get('host', 'localhost')}:{target.get('port', 5432)}/{target.get('dbname', '')}"
    try:
        with psycopg.connect(url, connect_timeout=max(1, int(timeout_s))) as conn:
            conn.execute("SELECT 1")
    except psycopg.Error as exc:
        reason = " ".join(str(exc).split())[:300] or type(exc).__name__
        raise InputError(f"cannot reach Postgres at {where}: {reason}", field="LUMOS_DATABASE_URL") from None
