"""The server's SQL layer lives in `lumos.tools.sqldb` (the live span and change stores share it)."""

from lumos.tools.sqldb import Database, PostgresDatabase, SqliteDatabase, Tx, open_database

__all__ = ["Database", "PostgresDatabase", "SqliteDatabase", "Tx", "open_database"]
