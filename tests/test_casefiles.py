import json
import shutil

import pytest

from lumos.tools.casefiles import CaseFiles
from lumos.tools.errors import InputError

MINIMAL_CASE = {
    "case.yaml": "id: t-1\nwindow: {start: '2024-01-01T00:00:00Z', end: '2024-01-01T00:30:00Z'}\nalert_time: '2024-01-01T00:20:00Z'\n",
    "alert.json": json.dumps({
        "version": "4", "status": "firing", "commonLabels": {"alertname": "X", "service": "web", "severity": "critical"},
        "alerts": [{"status": "firing", "labels": {"alertname": "X", "service": "web"}, "startsAt": "2024-01-01T00:20:00Z",
                    "endsAt": "0001-01-01T00:00:00Z"}],
    }),
}


@pytest.fixture
def case_dir(tmp_path):
    folder = tmp_path / "case"
    folder.mkdir()
    for name, text in MINIMAL_CASE.items():
        (folder / name).write_text(text)
    return folder


def test_minimal_case_loads_with_missing_optional_files(case_dir):
    case = CaseFiles(case_dir).load_all()
    assert case.alert.service == "web" and case.alert.severity == "critical"
    assert case.alert.ends_at is None
    assert case.logs == [] and case.spans == [] and case.metrics == [] and case.changes == []


def test_jsonl_error_names_file_line_and_field(case_dir):
    (case_dir / "logs.jsonl").write_text(
        '{"ts": "2024-01-01T00:00:01Z", "service": "a", "message": "ok"}\n\n{"ts": "not a time", "service": "a", "message": "x"}\n'
    )
    with pytest.raises(InputError) as err:
        CaseFiles(case_dir).logs
    text = str(err.value)
    assert "logs.jsonl:3" in text and "ts" in text


def test_invalid_json_line(case_dir):
    (case_dir / "spans.jsonl").write_text("{not json}\n")
    with pytest.raises(InputError, match=r"spans.jsonl:1: invalid JSON"):
        CaseFiles(case_dir).spans


def test_metrics_csv_errors(case_dir):
    (case_dir / "metrics.csv").write_text("ts,service,instance,metric,value\n2024-01-01T00:00:00Z,a,,cpu,abc\n")
    with pytest.raises(InputError, match=r"metrics.csv:2: value: expected a number"):
        CaseFiles(case_dir).metrics
    (case_dir / "metrics.csv").write_text("time,svc\n")
    with pytest.raises(InputError, match=r"metrics.csv:1: header must be"):
        CaseFiles(case_dir).metrics


def test_missing_case_yaml_and_alert(tmp_path, case_dir):
    with pytest.raises(InputError, match="case.yaml is missing"):
        CaseFiles(tmp_path)
    (case_dir / "alert.json").unlink()
    with pytest.raises(InputError, match="alert.json: file not found"):
        CaseFiles(case_dir).alert


def test_yaml_error_has_line(case_dir):
    (case_dir / "topology.yaml").write_text("services:\n  - {name: a\n")
    with pytest.raises(InputError, match=r"topology.yaml:\d+: invalid YAML"):
        CaseFiles(case_dir).topology


def test_alert_payload_shape_is_checked(case_dir):
    (case_dir / "alert.json").write_text(json.dumps({"version": "3", "alerts": []}))
    with pytest.raises(InputError, match="Alertmanager v4"):
        CaseFiles(case_dir).alert


def test_unknown_fields_are_ignored(case_dir):
    (case_dir / "changes.jsonl").write_text(
        '{"ts": "2024-01-01T00:10:00Z", "service": "a", "kind": "deploy", "version": "2", "future_field": 1}\n'
    )
    assert CaseFiles(case_dir).changes[0].version == "2"


def test_topology_is_derived_when_the_case_has_none(case_dir):
    spans = [
        {"trace_id": "t", "span_id": "a", "service": "web", "start": "2024-01-01T00:19:00Z", "duration_ms": 9},
        {"trace_id": "t", "span_id": "b", "parent_span_id": "a", "service": "api", "start": "2024-01-01T00:19:00Z", "duration_ms": 5},
        {"trace_id": "t", "span_id": "c", "parent_span_id": "b", "service": "api", "start": "2024-01-01T00:19:00Z", "duration_ms": 1},
        {"trace_id": "t", "span_id": "d", "parent_span_id": "gone", "service": "db", "start": "2024-01-01T00:19:00Z", "duration_ms": 1},
    ]
    (case_dir / "spans.jsonl").write_text("\n".join(json.dumps(s) for s in spans) + "\n")
    (case_dir / "metrics.csv").write_text("ts,service,instance,metric,value\n2024-01-01T00:19:00Z,cache,,cpu_usage_pct,3\n")
    topo = CaseFiles(case_dir).topology
    assert topo.service_names() == ["api", "cache", "db", "web"]
    assert [(e.caller, e.callee) for e in topo.calls] == [("web", "api")]  # no self-call, no edge to a missing parent
