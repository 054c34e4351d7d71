"""Line formats and robust timestamp parsing."""

from datetime import datetime, timezone

import pytest

from lumos.tools.logs.formats import ParsedLine, normalize_level, parse_line, parse_timestamp

UTC = timezone.utc


@pytest.mark.parametrize(
    ("text", "expected"),
    [
        ("2023-01-29T02:57:01.065Z", datetime(2023, 1, 29, 2, 57, 1, 65000, tzinfo=UTC)),
        ("2023-01-29 10:57:01,065+08:00", datetime(2023, 1, 29, 2, 57, 1, 65000, tzinfo=UTC)),
        ("1674961021", datetime(2023, 1, 29, 2, 57, 1, tzinfo=UTC)),
        ("1674961021065", datetime(2023, 1, 29, 2, 57, 1, 65000, tzinfo=UTC)),
        ("Jan 29 02:57:01", datetime(1970, 1, 29, 2, 57, 1, tzinfo=UTC)),
    ],
)
def test_timestamps(text: str, expected: datetime) -> None:
    assert parse_timestamp(text) == expected


@pytest.mark.parametrize("text", ["", "yesterday", "2023-13-45T99:00:00Z", "Foo 99 12:00:00"])
def test_unparseable_timestamps_are_none(text: str) -> None:
    assert parse_timestamp(text) is None


def test_levels() -> None:
    assert normalize_level("warning") == "WARN"
    assert normalize_level("[ERR]") == "ERROR"
    assert normalize_level("chatty") is None


def test_jsonl_ecs_and_case_shapes() -> None:
    case = parse_line('{"ts": "2023-01-29T02:57:01Z", "service": "a", "level": "ERROR", "message": "boom 1"}', "jsonl")
    ecs = parse_line('{"@timestamp": "2023-01-29T02:57:01Z", "service": {"name": "b"}, "log": {"level": "warn"}, "message": "x"}', "jsonl")
    assert isinstance(case, ParsedLine) and case.level == "ERROR" and case.service == "a"
    assert isinstance(ecs, ParsedLine) and ecs.service == "b" and ecs.level == "WARN"
    assert parse_line("{not json", "jsonl") == "invalid_json"
    assert parse_line('{"ts": "soon", "message": "x"}', "jsonl") == "bad_timestamp"


def test_logfmt_plain_and_syslog() -> None:
    lf = parse_line('ts=2023-01-29T02:57:01Z level=error msg="db down" service=api', "logfmt")
    assert isinstance(lf, ParsedLine) and lf.message == "db down" and lf.level == "ERROR" and lf.service == "api"
    plain = parse_line("2023-01-29 02:57:01.065 WARN pool almost exhausted", "plain")
    assert isinstance(plain, ParsedLine) and plain.level == "WARN" and plain.message == "pool almost exhausted"
    assert parse_line("garbage without a time", "plain") == "bad_timestamp"
    sl = parse_line("<11>Jan 29 02:57:01 host1 sshd[42]: Failed password for root", "syslog")
    assert isinstance(sl, ParsedLine) and sl.service == "sshd" and sl.level == "ERROR" and sl.message.startswith("Failed")
    r5424 = parse_line("<14>1 2023-01-29T02:57:01Z host app 1 - - started ok", "syslog")
    assert isinstance(r5424, ParsedLine) and r5424.message == "started ok" and r5424.level == "INFO"
    assert parse_line("not syslog", "syslog") == "not_syslog"
