"""One typed log-source interface (query and aggregate) and its file-backed implementation.

`LogSource` is what the log agent and its LLM tools call; `FileLogSource` is the embedded
default over a case's `logs.jsonl` or plain log files (JSON lines, logfmt, "<timestamp>
<level> <message>", syslog). A search backend (Elasticsearch/OpenSearch) implements the
same two methods. Results are bounded: a query returns at most `limit` records per page.
"""

from __future__ import annotations

import re
from bisect import bisect_left
from collections import Counter
from collections.abc import Iterable, Sequence
from datetime import datetime, timedelta
from pathlib import Path
from typing import Literal, Protocol

from pydantic import BaseModel, ConfigDict, Field, field_validator

from lumos.tools.domain import LogRecord
from lumos.tools.domain.base import as_utc
from lumos.tools.errors import InputError, LumosError
from lumos.tools.logs.filemine import MAX_LINE_CHARS, classify_line
from lumos.tools.logs.formats import LOG_FORMATS, LogFormat, parse_line
from lumos.tools.logs.miner import TemplateMiner

MAX_LIMIT = 1000
GroupBy = Literal["service", "level", "template"]


class LogQuery(BaseModel):
    """Which records to return: a time range, services, levels, a substring or a regex, one page."""

    model_config = ConfigDict(extra="forbid")

    start: datetime | None = None
    end: datetime | None = None
    services: list[str] = Field(default_factory=list, description="Empty = every service.")
    levels: list[str] = Field(default_factory=list, description="Empty = every level; 'NONE' matches records without one.")
    text: str | None = Field(None, description="Case-insensitive substring of the message.")
    regex: str | None = Field(None, description="Python regular expression searched in the message.")
    limit: int = Field(100, ge=1, le=MAX_LIMIT)
    offset: int = Field(0, ge=0, description="Page start: the `next_offset` of the previous page.")
    cursor: str | None = Field(None, description="Opaque page cursor: the `next_cursor` of the previous page (any backend).")

    @field_validator("start", "end")
    @classmethod
    def _utc(cls, value: datetime | None) -> datetime | None:
        return None if value is None else as_utc(value)

    @field_validator("regex")
    @classmethod
    def _compiles(cls, value: str | None) -> str | None:
        if value is not None:
            try:
                re.compile(value)
            except re.error as exc:
                raise ValueError(f"invalid regular expression: {exc}") from None
        return value


class LogPage(BaseModel):
    """One page of matching records, oldest first."""

    records: list[LogRecord]
    total: int = Field(description="How many records match the query in all.")
    next_offset: int | None = Field(None, description="Pass as `offset` for the next page; None on the last page.")
    next_cursor: str | None = Field(None, description="Pass as `cursor` for the next page; None on the last page.")


class LogBucket(BaseModel):
    """Count of records of one key in one time bucket."""

    start: datetime
    key: str
    count: int


class LogAggregation(BaseModel):
    """Counts by service, level or template over time buckets."""

    group_by: GroupBy
    bucket_seconds: float
    buckets: list[LogBucket]
    totals: dict[str, int]
    templates: dict[str, str] = Field(default_factory=dict, description="template id -> text, when grouped by template.")


class LogSourceError(LumosError):
    """A log backend could not answer (unreachable, timed out, refused the query)."""


class LogToolResult(BaseModel):
    """The envelope a log tool returns instead of raising: the incident goes on without it."""

    status: Literal["success", "no_data", "error"]
    page: LogPage | None = None
    aggregation: LogAggregation | None = None
    error: str | None = None


class LogSource(Protocol):
    """What every log backend offers."""

    def query(self, q: LogQuery) -> LogPage:
        """Matching records, one page at a time."""
        ...

    def aggregate(self, q: LogQuery, *, group_by: GroupBy = "service", bucket_seconds: float = 60.0) -> LogAggregation:
        """Counts of matching records by `group_by` per time bucket."""
        ...


class FileLogSource:
    """Log records from files (or given records), held in memory sorted by time."""

    def __init__(self, records: Iterable[LogRecord]):
        self._records: list[LogRecord] = sorted(records, key=lambda r: r.ts)
        self._times = [r.ts for r in self._records]
        self.skipped: dict[str, int] = {}

    @classmethod
    def from_files(cls, paths: Sequence[str | Path], fmt: LogFormat = "jsonl", *, service: str | None = None) -> "FileLogSource":
        """Read log files of one format; lines without a usable time are counted in `skipped`.
        Plain files name no service: `service` (default: the file's stem) is used."""
        if fmt not in LOG_FORMATS or fmt == "raw":
            raise InputError(f"unknown or untimed format {fmt!r}; expected one of jsonl, logfmt, plain, syslog")
        records: list[LogRecord] = []
        skipped: Counter = Counter()
        for raw_path in paths:
            path = Path(raw_path)
            if not path.is_file():
                raise InputError("file not found", path=path)
            with path.open("r", encoding="utf-8", errors="replace") as fh:
                for line in fh:
                    line = line.rstrip("\r\n")
                    reason = classify_line(line, MAX_LINE_CHARS)
                    if reason is None and fmt == "jsonl":
                        record = _case_record(line)
                        if record is not None:
                            records.append(record)
                            continue
                    parsed = reason if reason else parse_line(line, fmt)
                    if isinstance(parsed, str):
                        skipped[parsed] += 1
                        continue
                    if parsed.ts is None:
                        skipped["no_timestamp"] += 1
                        continue
                    records.append(LogRecord(ts=parsed.ts, service=parsed.service or service or path.stem,
                                             level=parsed.level, message=parsed.message))
        source = cls(records)
        source.skipped = dict(skipped)
        return source

    def __len__(self) -> int:
        return len(self._records)

    def _matching(self, q: LogQuery) -> list[LogRecord]:
        lo = bisect_left(self._times, q.start) if q.start else 0
        hi = bisect_left(self._times, q.end) if q.end else len(self._records)
        services = set(q.services)
        levels = {lvl.upper() for lvl in q.levels}
        text = q.text.lower() if q.text else None
        pattern = re.compile(q.regex) if q.regex else None
        out = []
        for r in self._records[lo:hi]:
            if services and r.service not in services:
                continue
            if levels and (r.level.upper() if r.level else "NONE") not in levels:
                continue
            if text and text not in r.message.lower():
                continue
            if pattern and not pattern.search(r.message):
                continue
            out.append(r)
        return out

    def query(self, q: LogQuery) -> LogPage:
        """Matching records, oldest first, `q.limit` per page from `q.offset`."""
        matches = self._matching(q)
        start = q.offset
        if q.cursor is not None:
            if not q.cursor.isdigit():
                raise InputError(f"cursor: expected the next_cursor of a previous page, got {q.cursor!r}")
            start = int(q.cursor)
        page = matches[start:start + q.limit]
        nxt = start + q.limit if start + q.limit < len(matches) else None
        return LogPage(records=page, total=len(matches), next_offset=nxt, next_cursor=None if nxt is None else str(nxt))

    def aggregate(self, q: LogQuery, *, group_by: GroupBy = "service", bucket_seconds: float = 60.0) -> LogAggregation:
        """Counts of matching records (all pages) by service, level or template per time bucket."""
        if bucket_seconds <= 0:
            raise InputError(f"bucket_seconds must be > 0, got {bucket_seconds}")
        matches = self._matching(q)
        keys: list[str]
        texts: dict[str, str] = {}
        if group_by == "template":
            miner = TemplateMiner()
            idx = miner.add_many([r.message for r in matches])
            keys = [miner.id_of(i) for i in idx]
            texts = {t.id: t.text for t in miner.templates()}
        elif group_by == "level":
            keys = [r.level or "NONE" for r in matches]
        else:
            keys = [r.service for r in matches]
        origin = q.start or (matches[0].ts if matches else None)
        counts: Counter = Counter()
        for r, key in zip(matches, keys):
            n = int((r.ts - origin).total_seconds() // bucket_seconds) if origin else 0
            counts[(n, key)] += 1
        buckets = [
            LogBucket(start=origin + timedelta(seconds=n * bucket_seconds), key=key, count=c)  # type: ignore[operator]
            for (n, key), c in sorted(counts.items())
        ]
        return LogAggregation(group_by=group_by, bucket_seconds=bucket_seconds, buckets=buckets,
                              totals=dict(Counter(keys).most_common()), templates=texts)


def _case_record(line: str) -> LogRecord | None:
    """A case-format logs.jsonl line as a LogRecord (None when it is another JSON shape)."""
    try:
        return LogRecord.model_validate_json(line)
    except ValueError:
        return None


def safe_query(source: LogSource, q: LogQuery) -> LogToolResult:
    """`source.query(q)` as a result envelope: backend failures become status "error" with the reason."""
    try:
        page = source.query(q)
    except (LogSourceError, InputError) as exc:
        return LogToolResult(status="error", error=str(exc))
    return LogToolResult(status="success" if page.records else "no_data", page=page)


def safe_aggregate(source: LogSource, q: LogQuery, *, group_by: GroupBy = "service", bucket_seconds: float = 60.0) -> LogToolResult:
    """`source.aggregate(...)` as a result envelope (see `safe_query`)."""
    try:
        agg = source.aggregate(q, group_by=group_by, bucket_seconds=bucket_seconds)
    except (LogSourceError, InputError) as exc:
        return LogToolResult(status="error", error=str(exc))
    return LogToolResult(status="success" if agg.totals else "no_data", aggregation=agg)
