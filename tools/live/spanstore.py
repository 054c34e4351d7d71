"""The span store behind the OTLP receiver: spans in the server's database, bounded in time and size.

`lumos serve` writes every span it receives on POST /v1/traces here; an investigation reads the
spans of its window (capped) and the call edges seen over a longer lookback. Retention deletes
spans that started more than `retention_s` ago and, past `max_spans`, the oldest ones (checked
every max_spans/10 spans, at most 20,000, and every 30 s), so the table stays within about
1.1 x max_spans whatever the senders do.
"""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Sequence
from datetime import datetime, timezone
from pathlib import Path

from lumos.tools.domain import Span, TimeWindow
from lumos.tools.sqldb import Database

SCHEMA = """
CREATE TABLE IF NOT EXISTS lumos_spans (
    trace_id TEXT NOT NULL,
    span_id TEXT NOT NULL,
    parent_span_id TEXT,
    service TEXT NOT NULL,
    instance TEXT,
    operation TEXT NOT NULL,
    start_us BIGINT NOT NULL,
    duration_ms DOUBLE PRECISION NOT NULL,
    status TEXT,
    PRIMARY KEY (trace_id, span_id)
);
CREATE INDEX IF NOT EXISTS lumos_spans_start ON lumos_spans (start_us)
"""
PRUNE_EVERY_SPANS = 20_000
PRUNE_EVERY_S = 30.0


def to_us(ts: datetime) -> int:
    """Microseconds since the epoch (the stored time unit)."""
    return int(round(ts.timestamp() * 1_000_000))


def from_us(us: int) -> datetime:
    """The UTC datetime of a stored time."""
    return datetime.fromtimestamp(us / 1_000_000, tz=timezone.utc)


class SpanStore:
    """Spans in the `lumos_spans` table of a SQLite or Postgres database."""

    def __init__(self, db: Database, *, retention_s: float = 6 * 3600.0, max_spans: int = 2_000_000):
        self.db = db
        self.retention_s = retention_s
        self.max_spans = max_spans
        self._lock = threading.Lock()
        self._since_prune = 0
        self._pruned_at = 0.0
        db.script(SCHEMA)

    def add(self, spans: Sequence[Span]) -> int:
        """Store spans (a span already stored is kept as it was); returns how many were offered."""
        if not spans:
            return 0
        rows = [(s.trace_id, s.span_id, s.parent_span_id, s.service, s.instance, s.operation, to_us(s.start), s.duration_ms, s.status)
                for s in spans]
        insert = ("INSERT INTO lumos_spans (trace_id, span_id, parent_span_id, service, instance, operation, start_us, duration_ms, status)"
                  " VALUES (?, ?, ?, ?, ?, ?, ?, ?, ?) ON CONFLICT (trace_id, span_id) DO NOTHING")
        with self.db.transaction() as tx:
            tx.many(insert, rows)
        with self._lock:
            self._since_prune += len(rows)
            every = min(PRUNE_EVERY_SPANS, max(1, self.max_spans // 10))
            due = self._since_prune >= every or time.monotonic() - self._pruned_at >= PRUNE_EVERY_S
        if due:
            self.prune()
        return len(rows)

    def prune(self, now: float | None = None) -> int:
        """Apply retention: drop spans older than retention_s, then the oldest past max_spans; returns rows deleted."""
        with self._lock:
            self._since_prune = 0
            self._pruned_at = time.monotonic()
        cutoff = int(((now if now is not None else time.time()) - self.retention_s) * 1_000_000)
        with self.db.transaction(lock_key="lumos-spans-prune") as tx:
            deleted = tx.run("DELETE FROM lumos_spans WHERE start_us < ?", (cutoff,))
            (count,) = tx.rows("SELECT count(*) FROM lumos_spans")[0]
            if count > self.max_spans:
                # keep 90 % so that the next batches do not prune again at once
                excess = count - int(self.max_spans * 0.9)
                edge = tx.rows("SELECT start_us FROM lumos_spans ORDER BY start_us LIMIT 1 OFFSET ?", (excess - 1,))
                if edge:
                    deleted += tx.run("DELETE FROM lumos_spans WHERE start_us <= ?", (edge[0][0],))
        return deleted

    def count(self) -> int:
        """Spans stored."""
        with self.db.transaction() as tx:
            return int(tx.rows("SELECT count(*) FROM lumos_spans")[0][0])

    def window(self, window: TimeWindow, *, limit: int) -> tuple[list[Span], bool]:
        """Spans that started in `window`, oldest first, at most `limit`; (spans, True when more were there)."""
        with self.db.transaction() as tx:
            rows = tx.rows(
                "SELECT trace_id, span_id, parent_span_id, service, instance, operation, start_us, duration_ms, status"
                " FROM lumos_spans WHERE start_us >= ? AND start_us < ? ORDER BY start_us, trace_id, span_id LIMIT ?",
                (to_us(window.start), to_us(window.end), limit + 1),
            )
        spans = [Span.model_construct(trace_id=r[0], span_id=r[1], parent_span_id=r[2], service=r[3], instance=r[4], operation=r[5],
                                      start=from_us(int(r[6])), duration_ms=float(r[7]), status=r[8]) for r in rows[:limit]]
        return spans, len(rows) > limit

    def write_jsonl(self, window: TimeWindow, path: Path, *, limit: int) -> tuple[int, bool]:
        """Write the spans of `window` (oldest first, at most `limit`) as spans.jsonl of the case format,
        straight from the rows; returns (spans written, True when more were there)."""
        written = 0
        with self.db.transaction() as tx:
            rows = tx.rows(
                "SELECT trace_id, span_id, parent_span_id, service, instance, operation, start_us, duration_ms, status"
                " FROM lumos_spans WHERE start_us >= ? AND start_us < ? ORDER BY start_us LIMIT ?",  # the index order: no sort
                (to_us(window.start), to_us(window.end), limit + 1),
            )
        dumps = json.dumps
        with path.open("w", encoding="utf-8") as fh:
            for r in rows[:limit]:
                start = from_us(int(r[6])).isoformat().replace("+00:00", "Z")
                fh.write(f'{{"trace_id":{dumps(r[0])},"span_id":{dumps(r[1])},"parent_span_id":{dumps(r[2])},"service":{dumps(r[3])},'
                         f'"instance":{dumps(r[4])},"operation":{dumps(r[5])},"start":"{start}","duration_ms":{float(r[7])!r},'
                         f'"status":{dumps(r[8])}}}\n')
                written += 1
        return written, len(rows) > limit

    def edges(self, window: TimeWindow, *, limit: int = 100_000) -> tuple[list[str], list[tuple[str, str]]]:
        """(services, caller -> callee edges) seen in spans that started in `window` (edges from span parentage)."""
        lo, hi = to_us(window.start), to_us(window.end)
        with self.db.transaction() as tx:
            services = [r[0] for r in tx.rows(
                "SELECT DISTINCT service FROM lumos_spans WHERE start_us >= ? AND start_us < ? ORDER BY service LIMIT ?", (lo, hi, limit))]
            pairs = tx.rows(
                "SELECT DISTINCT p.service, c.service FROM lumos_spans c JOIN lumos_spans p"
                " ON p.trace_id = c.trace_id AND p.span_id = c.parent_span_id"
                " WHERE c.start_us >= ? AND c.start_us < ? AND p.service <> c.service ORDER BY 1, 2 LIMIT ?", (lo, hi, limit))
        return services, [(a, b) for a, b in pairs]
