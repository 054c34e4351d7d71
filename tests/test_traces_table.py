"""spans.jsonl straight into columns: same spans, same index, same errors as the per-line model."""

import json
from datetime import datetime, timedelta, timezone

import numpy as np
import pytest

from lumos.tools.casefiles import CaseFiles, iter_jsonl
from lumos.tools.domain import Span
from lumos.tools.errors import InputError
from lumos.tools.traces.spans import index_spans, index_table, span_columns
from lumos.tools.traces.table import read_spans_jsonl, table_from_spans

T0 = datetime(2024, 1, 1, tzinfo=timezone.utc)


def _rows(n_traces: int = 30) -> list[dict]:
    """Traces web -> api -> db written out of start order, with the Span fields in their variants."""
    rows = []
    for i in range(n_traces):
        t = T0 + timedelta(seconds=i, microseconds=7 * i)
        tid = f"{i:032x}"
        rows += [
            {"trace_id": tid, "span_id": "a", "service": "web", "operation": "GET /", "start": t.isoformat().replace("+00:00", "Z"),
             "duration_ms": 30 + i % 4, "status": "OK", "instance": "web-0", "extra": {"ignored": True}},
            {"trace_id": tid, "span_id": "b", "parent_span_id": "a", "service": "api", "operation": "call",
             "start": (t + timedelta(milliseconds=2)).astimezone(timezone(timedelta(hours=2))).isoformat(), "duration_ms": 20.5},
            {"trace_id": tid, "span_id": "c", "parent_span_id": "b", "service": "db", "start": (t + timedelta(milliseconds=3)).replace(tzinfo=None).isoformat(),
             "duration_ms": 10.25, "status": "ERROR" if i % 5 == 0 else None},
        ]
    rows.append(dict(rows[0]))  # a repeated span id: the index keeps the first
    return rows[::-1]


def _write(path, rows, *, blank_every: int = 7) -> None:
    lines = []
    for k, r in enumerate(rows):
        lines.append(json.dumps(r))
        if k % blank_every == 0:
            lines.append("   ")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def test_columns_hold_the_same_spans_and_index_as_the_model(tmp_path):
    path = tmp_path / "spans.jsonl"
    _write(path, _rows())
    expected = sorted(iter_jsonl(path, Span), key=lambda s: s.start)
    table = read_spans_jsonl(path, block_bytes=512)  # many blocks
    assert table.spans() == expected
    assert read_spans_jsonl(path, block_bytes=64).spans() == expected  # lines longer than the buffer
    by_columns, by_objects = index_table(table), index_spans(expected)
    a, b = span_columns(by_columns), span_columns(by_objects)
    for name in ("start", "duration", "service", "group", "self_ms", "gap_ms", "is_entry", "error", "entry", "parent", "calls_callee"):
        assert np.array_equal(getattr(a, name), getattr(b, name)), name
    assert a.services == b.services and a.groups == b.groups and list(a.keys) == list(b.keys)
    assert by_columns.edges == by_objects.edges == {("web", "api"): 30, ("api", "db"): 30}
    assert by_columns.notes == by_objects.notes and "repeat a span id" in by_columns.notes[0]
    assert by_columns.facts == by_objects.facts


def test_a_value_only_the_model_accepts_is_read_through_it(tmp_path):
    rows = _rows(3)
    rows[2]["duration_ms"] = "12.5"  # a numeric string: the model coerces it
    path = tmp_path / "spans.jsonl"
    _write(path, rows)
    assert read_spans_jsonl(path).spans() == sorted(iter_jsonl(path, Span), key=lambda s: s.start)


@pytest.mark.parametrize("bad, field", [({"duration_ms": -1}, "duration_ms"), ({"start": "yesterday"}, "start"), ({"status": "MAYBE"}, "status")])
def test_errors_name_the_file_line_and_field_in_any_block(tmp_path, bad, field):
    rows = _rows(40)
    rows[100].update(bad)
    path = tmp_path / "spans.jsonl"
    path.write_text("\n".join(json.dumps(r) for r in rows) + "\n", encoding="utf-8")
    with pytest.raises(InputError) as expected:
        list(iter_jsonl(path, Span))
    with pytest.raises(InputError) as got:
        read_spans_jsonl(path, block_bytes=1000)
    assert str(got.value) == str(expected.value) and got.value.line == 101 and got.value.field == field


def test_broken_json_and_a_case_folder_without_spans(tmp_path):
    path = tmp_path / "spans.jsonl"
    path.write_text(json.dumps(_rows(1)[0]) + "\n{not json\n", encoding="utf-8")
    with pytest.raises(InputError, match=r"spans.jsonl:2: invalid JSON"):
        read_spans_jsonl(path)
    (tmp_path / "case.yaml").write_text("id: x\n", encoding="utf-8")
    path.unlink()
    case = CaseFiles(tmp_path)
    assert len(case.span_table) == 0 and case.spans == [] and len(case.span_index) == 0
    assert len(table_from_spans([])) == 0


def test_colliding_hash_keys_fall_back_to_exact_matching(tmp_path):
    import dataclasses

    path = tmp_path / "spans.jsonl"
    _write(path, _rows(5))
    table = read_spans_jsonl(path)
    # Every span and parent on one key: the string check catches it and the ids are matched exactly.
    forced = dataclasses.replace(table, key=np.zeros(len(table), dtype=np.int64), parent_key=np.zeros(len(table), dtype=np.int64))
    a, b = index_table(forced), index_table(table)
    assert np.array_equal(span_columns(a).parent, span_columns(b).parent) and a.edges == b.edges and a.notes == b.notes
