"""Log lines of an investigation's window from Elasticsearch/OpenSearch, filtered, counted and capped on the server.

The server counts the window's lines per time slice and service (one date_histogram + terms
aggregation) and filters by time; raw lines are fetched by slice, one request each, a few in
parallel (a slice that fills a page of 10,000 is split and read again, so no deep paging or sort
on _id is needed). When the window holds more than `max_lines`, every slice gives the same share
of its lines (the oldest of the slice), so the baseline and the incident are sampled at one rate
and keep lines from all along their span; the report says how many of how many lines were read.
"""

from __future__ import annotations

import math
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from itertools import repeat

from lumos.tools.domain import LogRecord, TimeWindow
from lumos.tools.live.config import ElasticSource, read_secret
from lumos.tools.logs.elastic import ElasticFields, ElasticLogSource
from lumos.tools.logs.source import LogQuery

SLICES = 12
PARALLEL = 4  # slice requests in flight at once
PAGE = 10_000  # Elasticsearch's default index.max_result_window: no deeper paging is needed


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


def _slice(source: ElasticLogSource, window: TimeWindow, size: int) -> list[dict]:
    """At most `size` hits of `window`, oldest first, with only the fields LUMOS reads."""
    f = source.fields
    res = source.search(query=source.bool_query(LogQuery(start=window.start, end=window.end)), size=size, track_total_hits=False,
                        sort=[{f.timestamp: "asc"}], _source=[f.timestamp, f.service, f.level, f.message, f.trace_id, f.instance])
    return list(res.get("hits", {}).get("hits", []))


def _slices(window: TimeWindow, count: int) -> list[TimeWindow]:
    step = window.seconds / count
    return [TimeWindow(start=window.start + timedelta(seconds=step * i),
                       end=window.end if i == count - 1 else window.start + timedelta(seconds=step * (i + 1))) for i in range(count)]


def _counted_slices(source: ElasticLogSource, window: TimeWindow) -> tuple[list[tuple[TimeWindow, int]], dict[str, int]]:
    """The window cut into about SLICES time slices (the server's date_histogram buckets) with the lines in each,
    and the lines per service: one aggregation request."""
    interval = max(1, math.ceil(window.seconds / SLICES))
    agg = source.aggregate(LogQuery(start=window.start, end=window.end), group_by="service", bucket_seconds=interval)
    per_bucket: dict[datetime, int] = {}
    for bucket in agg.buckets:
        per_bucket[bucket.start] = per_bucket.get(bucket.start, 0) + bucket.count
    slices = [(TimeWindow(start=max(start, window.start), end=min(start + timedelta(seconds=interval), window.end)), count)
              for start, count in sorted(per_bucket.items()) if count]
    return slices, dict(agg.totals)


def _all_of(source: ElasticLogSource, window: TimeWindow, depth: int = 0) -> list[dict]:
    """Every hit of `window`: a slice that fills a whole page is split in two and read again."""
    hits = _slice(source, window, PAGE)
    if len(hits) < PAGE or depth >= 12 or window.seconds < 0.002:
        return hits
    return [h for part in _slices(window, 2) for h in _all_of(source, part, depth + 1)]


def fetch_logs(source: ElasticLogSource, window: TimeWindow, max_lines: int) -> LogFetch:
    """The window's lines (at most `max_lines`: the same share of every time slice when capped) and the server's counts.

    Raises LogSourceError when the server cannot answer.
    """
    slices, per_service = _counted_slices(source, window)
    total = sum(per_service.values())
    result = LogFetch(total=total, per_service=per_service)
    share = min(1.0, max_lines / total) if total else 1.0
    with ThreadPoolExecutor(max_workers=PARALLEL, thread_name_prefix="lumos-logs") as pool:  # slices are independent requests
        if share >= 1.0:
            parts = pool.map(_all_of, repeat(source), [part for part, _ in slices])
        else:  # a uniform sample rate over time keeps the baseline and the incident comparable
            parts = pool.map(_slice, repeat(source), [part for part, _ in slices],
                             [min(PAGE, max(1, int(count * share))) for _, count in slices])
        hits = [h for part in parts for h in part][:max_lines]
    result.records = [r for r in map(source.record, hits) if r is not None]
    result.total = max(total, len(result.records))
    return result
