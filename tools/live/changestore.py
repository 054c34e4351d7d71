"""Deploy and config events received on POST /webhooks/changes, kept in the server's database.

Each event has an id (given by the sender, or a hash of its content), so a webhook delivered
twice is stored once. Events older than the retention are deleted as new ones arrive.
"""

from __future__ import annotations

import hashlib
import json
import time
from collections.abc import Sequence

from lumos.tools.domain import Change, TimeWindow
from lumos.tools.live.spanstore import from_us, to_us
from lumos.tools.sqldb import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS lumos_changes (
    change_id TEXT PRIMARY KEY,
    ts_us BIGINT NOT NULL,
    service TEXT NOT NULL,
    kind TEXT NOT NULL,
    summary TEXT NOT NULL,
    version TEXT,
    previous_version TEXT,
    attrs TEXT NOT NULL,
    received_at DOUBLE PRECISION NOT NULL
);
CREATE INDEX IF NOT EXISTS lumos_changes_ts ON lumos_changes (ts_us)
"""


def change_id(change: Change) -> str:
    """A content hash: the same event delivered twice has the same id."""
    canonical = json.dumps(change.model_dump(mode="json"), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(canonical.encode()).hexdigest()[:32]


class ChangeStore:
    """Change events in the `lumos_changes` table of a SQLite or Postgres database."""

    def __init__(self, db: Database, *, retention_s: float = 30 * 86400.0):
        self.db = db
        self.retention_s = retention_s
        db.script(SCHEMA)

    def add(self, changes: Sequence[tuple[str | None, Change]], *, now: float | None = None) -> int:
        """Store (id or None, change) pairs; returns how many were new."""
        now = time.time() if now is None else now
        added = 0
        with self.db.transaction() as tx:
            tx.run("DELETE FROM lumos_changes WHERE ts_us < ?", (int((now - self.retention_s) * 1_000_000),))
            for given_id, c in changes:
                added += tx.run(
                    "INSERT INTO lumos_changes (change_id, ts_us, service, kind, summary, version, previous_version, attrs, received_at)"
                    " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (change_id) DO NOTHING",
                    (given_id or change_id(c), to_us(c.ts), c.service, c.kind, c.summary, c.version, c.previous_version,
                     json.dumps(c.attrs, sort_keys=True), now),
                )
        return added

    def window(self, window: TimeWindow, *, limit: int = 10_000) -> list[Change]:
        """Changes with ts in `window`, oldest first (at most `limit`, the newest kept)."""
        with self.db.transaction() as tx:
            rows = tx.rows(
                "SELECT ts_us, service, kind, summary, version, previous_version, attrs FROM lumos_changes"
                " WHERE ts_us >= ? AND ts_us < ? ORDER BY ts_us DESC, change_id LIMIT ?",
                (to_us(window.start), to_us(window.end), limit),
            )
        return [Change(ts=from_us(int(r[0])), service=r[1], kind=r[2], summary=r[3], version=r[4], previous_version=r[5],
                       attrs=json.loads(r[6])) for r in reversed(rows)]
