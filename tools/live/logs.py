"""Log lines of an investigation's window from Elasticsearch/OpenSearch, filtered, counted and capped on the server.

The server counts the window's lines per service (a date_histogram + terms aggregation) and
filters by time; raw lines are fetched page by page (search_after). When the window holds more
than `max_lines`, the window is cut into equal time slices and each slice gives its share of
the cap (oldest first within a slice), so both the baseline and the incident keep lines from
all along their span; the report then says how many of how many lines were read.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from datetime import timedelta

from lumos.tools.domain import LogRecord, TimeWindow
from lumos.tools.live.config import ElasticSource, read_secret
from lumos.tools.logs.elastic import ElasticFields, ElasticLogSource
from lumos.tools.logs.source import MAX_LIMIT, LogQuery

SLICES = 12


@dataclass
class LogFetch:
    """Lines read for one window, the server's count of lines there, and per-service totals."""

    records: list[LogRecord] = field(default_factory=list)
    total: int = 0
    per_service: dict[str, int] = field(default_factory=dict)

    @property
    def capped(self) -> bool:
        """True when the cap left lines unread."""
        return len(self.records) < self.total


def connect(conf: ElasticSource) -> ElasticLogSource:
    """A client for the configured server, index, fields and credentials."""
    kwargs: dict[str, object] = {"verify_certs": conf.verify_certs}
    api_key = read_secret(conf.api_key_env, "sources.logs.api_key_env")
    if api_key:
        kwargs["api_key"] = api_key
    password = read_secret(conf.password_env, "sources.logs.password_env")
    if conf.username and password:
        kwargs["basic_auth"] = (conf.username, password)
    plain = conf.plain_json if conf.plain_json is not None else conf.type == "opensearch"
    fields = ElasticFields(**conf.fields.model_dump())
    return ElasticLogSource.connect(conf.url, conf.index, fields=fields, timeout_s=conf.timeout_s, plain_json=plain, **kwargs)


def _scan(source: ElasticLogSource, window: TimeWindow, budget: int) -> list[LogRecord]:
    """Up to `budget` lines of `window`, oldest first."""
    out: list[LogRecord] = []
    q = LogQuery(start=window.start, end=window.end, limit=min(MAX_LIMIT, budget))
    while len(out) < budget:
        page = source.query(q)
        out.extend(r.model_copy(update={"attrs": {}}) for r in page.records[: budget - len(out)])
        if page.next_cursor is None or not page.records:
            break
        q = q.model_copy(update={"cursor": page.next_cursor, "limit": min(MAX_LIMIT, budget - len(out)) or 1})
    return out


def fetch_logs(source: ElasticLogSource, window: TimeWindow, max_lines: int) -> LogFetch:
    """The window's lines (at most `max_lines`, spread over the window when capped) and the server's counts.

    Raises LogSourceError when the server cannot answer.
    """
    agg = source.aggregate(LogQuery(start=window.start, end=window.end), group_by="service",
                           bucket_seconds=max(1.0, window.seconds + 1))
    total = sum(agg.totals.values())
    result = LogFetch(total=total, per_service=dict(agg.totals))
    if total <= max_lines:
        result.records = _scan(source, window, max_lines)
        result.total = max(total, len(result.records))
        return result
    step = window.seconds / SLICES
    for i in range(SLICES):
        part = TimeWindow(start=window.start + timedelta(seconds=step * i),
                          end=window.end if i == SLICES - 1 else window.start + timedelta(seconds=step * (i + 1)))
        result.records.extend(_scan(source, part, max_lines // SLICES))
    return result
