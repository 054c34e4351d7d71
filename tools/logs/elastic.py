"""Elasticsearch / OpenSearch log source on the official `elasticsearch` client.

Queries are bool filters (range on the time field, terms on service and level) with a
match_phrase on the message; pages use `search_after` on (time, _id); aggregations are a
`date_histogram` with a `terms` sub-aggregation (templates are mined here from the matching
messages, bounded). Field names are configurable and default to ECS (`@timestamp`,
`service.name`, `log.level`, `message`). Every backend failure is a `LogSourceError` with
the reason (wrap calls in `safe_query`/`safe_aggregate` for a result envelope).

`PlainJsonNode` is an opt-in transport node for servers that reject the v9 client's
compatibility media type (`application/vnd.elasticsearch+json; compatible-with=9` gets a
406 from OpenSearch-compatible servers, such as the in-memory one the tests use): it sends
plain `application/json`. It is never used unless passed as `node_class`.
"""

from __future__ import annotations

import json
import re
from collections import Counter
from datetime import datetime, timedelta, timezone
from typing import Any

from pydantic import BaseModel, ConfigDict

from lumos.tools.domain import LogRecord
from lumos.tools.errors import InputError
from lumos.tools.logs.formats import normalize_level, parse_timestamp
from lumos.tools.logs.miner import TemplateMiner
from lumos.tools.logs.source import GroupBy, LogAggregation, LogBucket, LogPage, LogQuery, LogSourceError

try:  # optional dependency: only this backend needs it
    from elastic_transport import Urllib3HttpNode
    from elasticsearch import ApiError, Elasticsearch, TransportError
except ImportError:  # pragma: no cover - exercised only without the package
    Elasticsearch = None  # type: ignore[assignment,misc]
    Urllib3HttpNode = object  # type: ignore[assignment,misc]
    ApiError = TransportError = Exception  # type: ignore[assignment,misc]

MAX_TEMPLATE_MESSAGES = 10_000
_COMPAT_RE = re.compile(r"application/vnd\.elasticsearch\+([\w-]+);\s*compatible-with=\d+")


class ElasticFields(BaseModel):
    """Where each log field lives in the documents (ECS names by default)."""

    model_config = ConfigDict(extra="forbid", frozen=True)

    timestamp: str = "@timestamp"
    service: str = "service.name"
    level: str = "log.level"
    message: str = "message"
    trace_id: str = "trace.id"
    instance: str = "host.name"


class PlainJsonNode(Urllib3HttpNode):  # type: ignore[misc,valid-type]
    """Opt-in transport node that sends `application/json` (and `application/x-ndjson`)
    instead of the client's compatibility media types."""

    def perform_request(self, method: str, target: str, body: bytes | None = None, headers: Any = None, **kwargs: Any) -> Any:
        """Rewrite Accept/Content-Type to plain JSON, then send as usual."""
        if headers is not None:
            headers = headers.copy()
            for key in ("accept", "content-type"):
                if key in headers and _COMPAT_RE.search(headers[key]):
                    headers[key] = _COMPAT_RE.sub(r"application/\1", headers[key])
        return super().perform_request(method, target, body=body, headers=headers, **kwargs)


def _get(doc: dict[str, Any], dotted: str) -> Any:
    """A field by dotted name: flat (`"service.name": x`) or nested (`service: {name: x}`)."""
    if dotted in doc:
        return doc[dotted]
    node: Any = doc
    for part in dotted.split("."):
        if not isinstance(node, dict) or part not in node:
            return None
        node = node[part]
    return node


class ElasticLogSource:
    """Query and aggregate logs in one index (or pattern) of Elasticsearch/OpenSearch."""

    def __init__(self, client: Any, index: str, *, fields: ElasticFields | None = None, timeout_s: float = 10.0):
        if Elasticsearch is None:  # pragma: no cover
            raise InputError("the Elasticsearch log source needs the `elasticsearch` package (pip install elasticsearch)")
        self.client = client
        self.index = index
        self.fields = fields or ElasticFields()
        self.timeout_s = timeout_s

    @classmethod
    def connect(cls, url: str, index: str, *, fields: ElasticFields | None = None, timeout_s: float = 10.0,
                plain_json: bool = False, **client_kwargs: Any) -> "ElasticLogSource":
        """A source for `url` (api_key=..., basic_auth=... pass through to the client).
        `plain_json=True` opts into `PlainJsonNode` for OpenSearch-compatible servers."""
        if Elasticsearch is None:  # pragma: no cover
            raise InputError("the Elasticsearch log source needs the `elasticsearch` package (pip install elasticsearch)")
        if plain_json:
            client_kwargs["node_class"] = PlainJsonNode
        client = Elasticsearch(url, request_timeout=timeout_s, max_retries=1, retry_on_timeout=False, **client_kwargs)
        return cls(client, index, fields=fields, timeout_s=timeout_s)

    # -- query building ---------------------------------------------------------------------

    def bool_query(self, q: LogQuery) -> dict[str, Any]:
        """The bool query (filters on time, services, levels; match_phrase on text) of `q`."""
        f = self.fields
        filters: list[dict[str, Any]] = []
        if q.start or q.end:
            rng: dict[str, str] = {}
            if q.start:
                rng["gte"] = q.start.isoformat()
            if q.end:
                rng["lt"] = q.end.isoformat()
            filters.append({"range": {f.timestamp: rng}})
        if q.services:
            filters.append({"terms": {f.service: list(q.services)}})
        if q.levels:
            variants = sorted({v for lvl in q.levels for v in (lvl, lvl.upper(), lvl.lower(), lvl.capitalize())})
            filters.append({"terms": {f.level: variants}})
        must: list[dict[str, Any]] = [{"match_phrase": {f.message: q.text}}] if q.text else []
        return {"bool": {"filter": filters, "must": must or [{"match_all": {}}]}}

    def search(self, **body: Any) -> dict[str, Any]:
        """One raw search on the index; LogSourceError with the reason when the server cannot answer."""
        try:
            return dict(self.client.options(request_timeout=self.timeout_s).search(index=self.index, **body))
        except ApiError as exc:
            raise LogSourceError(f"search on {self.index!r} failed: {getattr(exc, 'status_code', '?')} {exc.message}") from None
        except TransportError as exc:
            raise LogSourceError(f"log backend unreachable or too slow: {type(exc).__name__}: {exc}") from None

    def record(self, hit: dict[str, Any]) -> LogRecord | None:
        """The LogRecord of one hit (None without a timestamp or message)."""
        f, doc = self.fields, hit.get("_source") or {}
        ts = parse_timestamp(str(_get(doc, f.timestamp) or ""))
        message = _get(doc, f.message)
        if ts is None or message is None:
            return None
        level = _get(doc, f.level)
        return LogRecord(ts=ts, service=str(_get(doc, f.service) or "unknown"), message=str(message),
                         level=normalize_level(str(level)) or (str(level) if level else None),
                         trace_id=_get(doc, f.trace_id), instance=_get(doc, f.instance), attrs={"_id": hit.get("_id")})

    # -- the LogSource interface -----------------------------------------------------------------

    def query(self, q: LogQuery) -> LogPage:
        """Matching records, oldest first, one page; `next_cursor` carries the search_after values.
        A `regex` is applied to each page after the search (pages may then hold fewer records)."""
        after = None
        if q.cursor:
            try:
                after = json.loads(q.cursor)
            except ValueError:
                raise InputError(f"cursor: expected the next_cursor of a previous page, got {q.cursor!r}") from None
        body: dict[str, Any] = {
            "query": self.bool_query(q), "size": q.limit, "track_total_hits": True,
            "sort": [{self.fields.timestamp: "asc"}, {"_id": "asc"}],
        }
        if after is not None:
            body["search_after"] = after
        elif q.offset:
            body["from"] = q.offset
        res = self.search(**body)
        hits = res.get("hits", {}).get("hits", [])
        total = res.get("hits", {}).get("total", {})
        pattern = re.compile(q.regex) if q.regex else None
        records = [r for r in (self.record(h) for h in hits) if r is not None and (pattern is None or pattern.search(r.message))]
        more = len(hits) == q.limit
        cursor = json.dumps(hits[-1]["sort"]) if more and hits and "sort" in hits[-1] else None
        return LogPage(records=records, total=int(total.get("value", len(hits))) if isinstance(total, dict) else int(total),
                       next_offset=(q.offset + q.limit) if more and after is None else None, next_cursor=cursor)

    def aggregate(self, q: LogQuery, *, group_by: GroupBy = "service", bucket_seconds: float = 60.0) -> LogAggregation:
        """Counts by service or level per time bucket (date_histogram + terms); by template, the
        matching messages (at most MAX_TEMPLATE_MESSAGES) are fetched and mined here."""
        if bucket_seconds <= 0:
            raise InputError(f"bucket_seconds must be > 0, got {bucket_seconds}")
        if group_by == "template":
            return self._aggregate_templates(q, bucket_seconds)
        field = self.fields.service if group_by == "service" else self.fields.level
        res = self.search(query=self.bool_query(q), size=0, aggs={
            "t": {"date_histogram": {"field": self.fields.timestamp, "fixed_interval": f"{max(1, int(bucket_seconds))}s",
                                     "min_doc_count": 1},
                  "aggs": {"k": {"terms": {"field": field, "size": 100, "missing": "NONE"}}}},
        })
        buckets: list[LogBucket] = []
        totals: Counter = Counter()
        for b in res.get("aggregations", {}).get("t", {}).get("buckets", []):
            start = datetime.fromtimestamp(b["key"] / 1000.0, tz=timezone.utc)
            for kb in b.get("k", {}).get("buckets", []):
                key = str(kb["key"]) if group_by == "service" else (normalize_level(str(kb["key"])) or str(kb["key"]))
                buckets.append(LogBucket(start=start, key=key, count=int(kb["doc_count"])))
                totals[key] += int(kb["doc_count"])
        return LogAggregation(group_by=group_by, bucket_seconds=bucket_seconds, buckets=buckets, totals=dict(totals.most_common()))

    def _aggregate_templates(self, q: LogQuery, bucket_seconds: float) -> LogAggregation:
        records: list[LogRecord] = []
        page_q = q.model_copy(update={"limit": 1000, "offset": 0, "cursor": None})
        while len(records) < MAX_TEMPLATE_MESSAGES:
            page = self.query(page_q)
            records.extend(page.records)
            if page.next_cursor is None:
                break
            page_q = page_q.model_copy(update={"cursor": page.next_cursor})
        miner = TemplateMiner()
        ids = [miner.id_of(i) for i in miner.add_many([r.message for r in records])] if records else []
        origin = q.start or (records[0].ts if records else None)
        counts: Counter = Counter()
        for r, tid in zip(records, ids):
            counts[(int((r.ts - origin).total_seconds() // bucket_seconds), tid)] += 1  # type: ignore[operator]
        buckets = [LogBucket(start=origin + timedelta(seconds=n * bucket_seconds), key=k, count=c)  # type: ignore[operator]
                   for (n, k), c in sorted(counts.items())]
        return LogAggregation(group_by="template", bucket_seconds=bucket_seconds, buckets=buckets,
                              totals=dict(Counter(ids).most_common()), templates={t.id: t.text for t in miner.templates()})
