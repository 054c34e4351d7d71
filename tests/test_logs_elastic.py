"""The Elasticsearch/OpenSearch log source against a real search server process (osmem-server,
an in-memory OpenSearch-compatible server started by the test). Skipped when the optional
packages `elasticsearch` and `osmem-server` are not installed."""

from datetime import datetime, timedelta, timezone

import pytest

from lumos.tools.logs.source import LogQuery, safe_aggregate, safe_query

elasticsearch = pytest.importorskip("elasticsearch")
osmem = pytest.importorskip("osmem_server")

from elasticsearch import helpers  # noqa: E402

from lumos.tools.logs.elastic import ElasticFields, ElasticLogSource  # noqa: E402

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=timezone.utc)
INDEX = "logs-test"


@pytest.fixture(scope="module")
def server():
    srv = osmem.OsmemServer.start(freeze=False)
    yield srv
    srv.close()


@pytest.fixture(scope="module")
def source(server) -> ElasticLogSource:
    src = ElasticLogSource.connect(server.url, INDEX, plain_json=True, timeout_s=5.0)
    src.client.indices.create(index=INDEX, mappings={"properties": {
        "@timestamp": {"type": "date"}, "service": {"properties": {"name": {"type": "keyword"}}},
        "log": {"properties": {"level": {"type": "keyword"}}}, "message": {"type": "text"},
    }})
    docs = [{"_index": INDEX, "_id": f"d{i:03d}", "_source": {
        "@timestamp": (T0 + timedelta(seconds=i)).isoformat(), "service": {"name": ["api", "db", "cache"][i % 3]},
        "log": {"level": "ERROR" if i % 10 == 0 else "INFO"},
        "message": f"connection refused to db-{i % 4}:5432" if i % 10 == 0 else f"request {i} served in {i}ms",
    }} for i in range(90)]
    helpers.bulk(src.client, docs, refresh=True)
    return src


def test_query_filters_and_search_after_paging(source: ElasticLogSource) -> None:
    q = LogQuery(start=T0 + timedelta(seconds=10), end=T0 + timedelta(seconds=70), services=["api"], limit=7)
    first = source.query(q)
    assert first.total == 20 and len(first.records) == 7 and first.next_cursor
    seen = [r.ts for r in first.records]
    page = first
    while page.next_cursor:
        page = source.query(q.model_copy(update={"cursor": page.next_cursor}))
        seen += [r.ts for r in page.records]
    assert len(seen) == 20 and seen == sorted(seen)
    assert all(r.service == "api" for r in first.records)
    errors = source.query(LogQuery(levels=["error"], limit=100))
    assert errors.total == 9 and all(r.level == "ERROR" for r in errors.records)
    assert source.query(LogQuery(text="connection refused", limit=100)).total == 9
    assert len(source.query(LogQuery(regex=r"db-2:", limit=100)).records) == 4


def test_aggregations(source: ElasticLogSource) -> None:
    by_service = source.aggregate(LogQuery(), group_by="service", bucket_seconds=30)
    assert by_service.totals == {"api": 30, "db": 30, "cache": 30}
    assert len({b.start for b in by_service.buckets}) == 3
    by_level = source.aggregate(LogQuery(), group_by="level", bucket_seconds=60)
    assert by_level.totals == {"INFO": 81, "ERROR": 9}
    by_template = source.aggregate(LogQuery(), group_by="template", bucket_seconds=60)
    assert sorted(by_template.templates.values()) == ["connection refused to <*>", "request <*> served in <*>"]


def test_custom_field_names(server) -> None:
    src = ElasticLogSource.connect(server.url, "flat-logs", plain_json=True,
                                   fields=ElasticFields(timestamp="ts", service="app", level="severity", message="msg"))
    src.client.index(index="flat-logs", id="1", document={"ts": T0.isoformat(), "app": "worker", "severity": "warning", "msg": "slow"},
                     refresh=True)
    record = src.query(LogQuery()).records[0]
    assert (record.service, record.level, record.message) == ("worker", "WARN", "slow")


def test_unreachable_or_failing_backend_is_a_typed_error(server) -> None:
    down = ElasticLogSource.connect("http://127.0.0.1:9", INDEX, plain_json=True, timeout_s=1.0)
    result = safe_query(down, LogQuery())
    assert result.status == "error" and "unreachable" in result.error
    missing = ElasticLogSource.connect(server.url, "no-such-index", plain_json=True)
    result = safe_aggregate(missing, LogQuery())
    assert result.status == "error" and "no-such-index" in result.error


def test_live_fetch_caps_lines_at_one_sample_rate_over_the_window(source: ElasticLogSource) -> None:
    from lumos.tools.domain import TimeWindow
    from lumos.tools.live.logs import fetch_logs

    window = TimeWindow(start=T0 - timedelta(seconds=60), end=T0 + timedelta(seconds=90))  # no lines in the first 60 s
    everything = fetch_logs(source, window, max_lines=1000)
    assert len(everything.records) == 90 and not everything.capped and everything.per_service == {"api": 30, "db": 30, "cache": 30}
    capped = fetch_logs(source, window, max_lines=30)
    assert capped.capped and capped.total == 90 and 20 <= len(capped.records) <= 30
    seconds = sorted((r.ts - T0).total_seconds() for r in capped.records)
    assert seconds[0] < 15 and seconds[-1] > 70, "lines come from all along the window, not just its start"
