"""Serialise a generated case to the case-format files, byte-stably (fixed key order, rounding, sorting)."""

from __future__ import annotations

import json
from pathlib import Path

import yaml

from lumos.tools.domain import AlertmanagerPayload, CaseInfo, Change, GroundTruth

from lumos.evals.generate.rng import ts_ms, ts_s
from lumos.evals.generate.system import System


def _jsonl(path: Path, rows: list[dict]) -> None:
    with path.open("w", encoding="utf-8", newline="\n") as fh:
        for row in rows:
            fh.write(json.dumps(row, separators=(",", ":"), ensure_ascii=False) + "\n")


def _yaml(path: Path, data: dict) -> None:
    path.write_text(yaml.safe_dump(data, sort_keys=False, width=120, allow_unicode=True), encoding="utf-8")


def write_info(path: Path, info: CaseInfo) -> None:
    """case.yaml."""
    _yaml(path, {"id": info.id, "title": info.title, "system": info.system, "source": info.source,
                 "window": {"start": ts_s(info.window.start), "end": ts_s(info.window.end)},
                 "alert_time": ts_s(info.alert_time), "notes": info.notes})


def write_alert(path: Path, payload: AlertmanagerPayload) -> None:
    """alert.json (validated model, dumped in field order)."""
    raw = payload.model_dump(mode="json")
    for alert in raw["alerts"]:
        alert["startsAt"] = alert["startsAt"].replace("+00:00", "Z")
        alert["endsAt"] = alert["endsAt"] or "0001-01-01T00:00:00Z"
    path.write_text(json.dumps(raw, indent=2) + "\n", encoding="utf-8")


def write_logs(path: Path, records: list[dict]) -> None:
    """logs.jsonl sorted by time."""
    rows = []
    for rec in sorted(records, key=lambda r: r["ts"]):
        rows.append({**rec, "ts": ts_ms(rec["ts"])})
    _jsonl(path, rows)


def write_spans(path: Path, spans: list[dict]) -> None:
    """spans.jsonl sorted by start."""
    _jsonl(path, [{**s, "start": ts_ms(s["start"])} for s in sorted(spans, key=lambda s: s["start"])])


def write_metrics(path: Path, rows: list[tuple]) -> None:
    """metrics.csv in long format."""
    lines = ["ts,service,instance,metric,value"]
    for ts, service, instance, metric, value in sorted(rows, key=lambda r: (r[0], r[1], r[2], r[3])):
        lines.append(f"{ts_s(ts)},{service},{instance},{metric},{value:.6g}")
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_topology(path: Path, system: System) -> None:
    """topology.yaml in flow style, one service or call per line."""
    lines = ["services:"]
    for name, spec in sorted(system.services.items()):
        tier = f", tier: {spec.tier}" if spec.tier == "edge" else ""
        lines.append(f"- {{name: {name}, kind: {spec.kind}{tier}}}")
    lines.append("calls:")
    lines += [f"- {{caller: {a}, callee: {b}}}" for a, b in system.calls]
    path.write_text("\n".join(lines) + "\n", encoding="utf-8")


def write_changes(path: Path, changes: list[Change]) -> None:
    """changes.jsonl sorted by time."""
    rows = []
    for ch in changes:
        row = {"ts": ts_s(ch.ts), "service": ch.service, "kind": ch.kind, "summary": ch.summary}
        if ch.version:
            row["version"] = ch.version
        if ch.previous_version:
            row["previous_version"] = ch.previous_version
        row["attrs"] = ch.attrs
        rows.append(row)
    _jsonl(path, rows)


def write_truth(path: Path, truth: GroundTruth) -> None:
    """truth.yaml."""
    root = {"service": truth.root_cause.service, "fault_type": truth.root_cause.fault_type.value}
    if truth.root_cause.instance:
        root["instance"] = truth.root_cause.instance
    _yaml(path, {"root_cause": root, "fault_start": ts_s(truth.fault_start) if truth.fault_start else None,
                 "accepted_runbooks": list(truth.accepted_runbooks), "forbidden_actions": list(truth.forbidden_actions)})
