"""The file log source: query (filters, paging) and aggregate (by service/level/template)."""

from datetime import datetime, timedelta, timezone
from pathlib import Path

import pytest
from pydantic import ValidationError

from lumos.tools.domain import LogRecord
from lumos.tools.errors import InputError
from lumos.tools.logs.source import FileLogSource, LogQuery

T0 = datetime(2024, 3, 1, 8, 0, tzinfo=timezone.utc)


def _source() -> FileLogSource:
    records = []
    for i in range(120):
        svc = ["api", "db", "cache"][i % 3]
        level = "ERROR" if i % 10 == 0 else ("INFO" if i % 7 else None)
        records.append(LogRecord(ts=T0 + timedelta(seconds=i), service=svc, level=level, message=f"request {i} done in {i}ms"))
    return FileLogSource(reversed(records))


def test_query_filters_and_pages() -> None:
    src = _source()
    q = LogQuery(start=T0 + timedelta(seconds=30), end=T0 + timedelta(seconds=90), services=["api"], limit=5)
    page = src.query(q)
    assert page.total == 20 and len(page.records) == 5 and page.next_offset == 5
    assert all(r.service == "api" and T0 + timedelta(seconds=30) <= r.ts < T0 + timedelta(seconds=90) for r in page.records)
    assert page.records == sorted(page.records, key=lambda r: r.ts)
    last = src.query(q.model_copy(update={"offset": 15}))
    assert len(last.records) == 5 and last.next_offset is None
    assert src.query(LogQuery(levels=["error"])).total == 12
    assert src.query(LogQuery(levels=["NONE"])).total > 0
    assert src.query(LogQuery(text="REQUEST 7 ")).total == 1
    assert src.query(LogQuery(regex=r"request 1\d done")).total == 10


def test_bad_queries_are_rejected() -> None:
    with pytest.raises(ValidationError):
        LogQuery(regex="(unclosed")
    with pytest.raises(ValidationError):
        LogQuery(limit=0)


def test_aggregate_by_service_level_template() -> None:
    src = _source()
    by_service = src.aggregate(LogQuery(), group_by="service", bucket_seconds=60)
    assert by_service.totals == {"api": 40, "db": 40, "cache": 40}
    assert len({b.start for b in by_service.buckets}) == 2
    by_template = src.aggregate(LogQuery(), group_by="template")
    assert list(by_template.templates.values()) == ["request <*> done in <*>"]
    assert sum(src.aggregate(LogQuery(), group_by="level").totals.values()) == 120


def test_from_files(tmp_path: Path) -> None:
    case = tmp_path / "logs.jsonl"
    case.write_text(
        '{"ts": "2024-03-01T08:00:00Z", "service": "api", "level": "INFO", "message": "hello", "trace_id": "t1"}\n'
        '{"@timestamp": "2024-03-01T08:00:01Z", "service": {"name": "db"}, "log": {"level": "error"}, "message": "down"}\n'
        "not json\n"
    )
    src = FileLogSource.from_files([case], "jsonl")
    assert len(src) == 2 and src.skipped == {"invalid_json": 1}
    assert src.query(LogQuery(levels=["ERROR"])).records[0].service == "db"
    plain = tmp_path / "worker.log"
    plain.write_text("2024-03-01 08:00:00 INFO up\n2024-03-01 08:00:05 ERROR boom\nno time here\n")
    src = FileLogSource.from_files([plain], "plain")
    assert [r.service for r in src.query(LogQuery()).records] == ["worker", "worker"]
    assert src.skipped == {"bad_timestamp": 1}
    with pytest.raises(InputError):
        FileLogSource.from_files([tmp_path / "missing.log"], "plain")
