"""An idempotency ledger in SQLite for backends that act on remote systems (HTTP hooks, commands).

The remote side cannot share our transaction, so the ledger is written right after the
action returns; the key is also sent to the remote side (HTTP `Idempotency-Key`) so a crash
between acting and recording is deduplicated there.
"""

from __future__ import annotations

import json
import sqlite3
from pathlib import Path
from typing import Any

from lumos.tools.actions.backend import ExecutionOutcome

_SCHEMA = """
CREATE TABLE IF NOT EXISTS action_ledger (
    backend TEXT NOT NULL,
    idempotency_key TEXT NOT NULL,
    action TEXT NOT NULL,
    params TEXT NOT NULL,
    outcome TEXT NOT NULL,
    PRIMARY KEY (backend, idempotency_key)
);
"""


class Ledger:
    """Recorded outcomes by (backend, idempotency key)."""

    def __init__(self, db_path: str | Path, backend: str):
        self.backend = backend
        self._conn = sqlite3.connect(str(db_path), isolation_level=None, timeout=30.0)
        self._conn.executescript(_SCHEMA)

    def close(self) -> None:
        """Close the database connection."""
        self._conn.close()

    def lookup(self, key: str, action: str, params: dict[str, Any]) -> ExecutionOutcome | None:
        """The recorded outcome for `key` marked replayed, a failed outcome if the key was used for
        another request, or None when the key is new."""
        row = self._conn.execute("SELECT action, params, outcome FROM action_ledger WHERE backend=? AND idempotency_key=?",
                                 (self.backend, key)).fetchone()
        if row is None:
            return None
        if row[0] != action or json.loads(row[1]) != params:
            return ExecutionOutcome(action=action, params=params, status="failed", idempotency_key=key,
                                    output=f"idempotency key {key!r} was already used for {row[0]} with other parameters; nothing was run")
        return ExecutionOutcome.model_validate_json(row[2]).model_copy(update={"replayed": True})

    def record(self, outcome: ExecutionOutcome) -> None:
        """Store an outcome under its key (first write wins)."""
        self._conn.execute(
            "INSERT OR IGNORE INTO action_ledger VALUES (?,?,?,?,?)",
            (self.backend, outcome.idempotency_key, outcome.action, json.dumps(outcome.params, sort_keys=True), outcome.model_dump_json()),
        )
