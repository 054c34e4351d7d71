"""A live stack opened from `lumos.yaml`: the config plus the span and change stores it reads."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

from lumos.tools.live.changestore import ChangeStore
from lumos.tools.live.config import StackConfig, read_secret
from lumos.tools.live.spanstore import SpanStore
from lumos.tools.sqldb import Database, open_database

DATABASE_ENV = "LUMOS_DATABASE_URL"


def database_url(config: StackConfig) -> str | None:
    """postgresql://... from the variable `server.database_url_env` names, else LUMOS_DATABASE_URL; None = SQLite."""
    return read_secret(config.server.database_url_env, "server.database_url_env") or os.environ.get(DATABASE_ENV) or None


def sqlite_path(state_dir: Path) -> Path:
    """The SQLite file `lumos serve` keeps incidents, spans and changes in."""
    return state_dir / "serve.sqlite"


@dataclass
class LiveStack:
    """The parsed configuration and the stores of the server's database (opened once per process)."""

    config: StackConfig
    spans: SpanStore
    changes: ChangeStore
    db: Database
    own_db: bool = True

    @classmethod
    def open(cls, config: StackConfig, state_dir: Path, *, db: Database | None = None) -> "LiveStack":
        """Open the stores on `db` (the server shares its own), else on the configured database."""
        own = db is None
        if db is None:
            state_dir.mkdir(parents=True, exist_ok=True)
            db = open_database(database_url(config), sqlite_path(state_dir))
        otlp = config.server.otlp
        return cls(config=config, spans=SpanStore(db, retention_s=otlp.retention_s, max_spans=otlp.max_spans),
                   changes=ChangeStore(db, retention_s=config.server.changes_retention_s), db=db, own_db=own)

    def close(self) -> None:
        """Close the database when this stack opened it."""
        if self.own_db:
            self.db.close()
