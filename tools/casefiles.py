"""File-backed data sources for one recorded incident case folder (the embedded default).

Only what a responder could see is read here (case.yaml, alert.json, logs, spans, metrics,
topology, changes); truth.yaml is deliberately not readable through this module.
Every parse error is an `InputError` naming the file, the line (JSONL/CSV) and the field.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator
from datetime import datetime
from functools import cached_property, lru_cache
from pathlib import Path
from typing import TYPE_CHECKING, Any, TypeVar

import yaml
from pydantic import BaseModel, ValidationError

from lumos.tools.domain import (
    Alert,
    AlertmanagerPayload,
    CaseInfo,
    Change,
    LogRecord,
    MetricSample,
    Span,
    TimeWindow,
    Topology,
)
from lumos.tools.errors import InputError

if TYPE_CHECKING:
    from lumos.tools.traces.spans import SpanIndex
    from lumos.tools.traces.table import SpanTable
from lumos.tools.topology.derive import derive_topology
from lumos.tools.validation import describe_validation_error

M = TypeVar("M", bound=BaseModel)

CASE_FILE = "case.yaml"
OBSERVABLE_FILES = ("alert.json", "logs.jsonl", "spans.jsonl", "metrics.csv", "topology.yaml", "changes.jsonl")
_YAML_LOADER: Any = getattr(yaml, "CSafeLoader", yaml.SafeLoader)  # libyaml's C parser where PyYAML was built with it


def safe_load_yaml(text: str) -> Any:
    """yaml.safe_load with the C loader when available (same results, several times faster)."""
    return yaml.load(text, Loader=_YAML_LOADER)  # noqa: S506 - a safe loader


def read_yaml(path: Path, model: type[M]) -> M:
    """Parse a YAML file into `model`, raising InputError with the file and field on failure."""
    try:
        raw = safe_load_yaml(path.read_text(encoding="utf-8"))
    except FileNotFoundError:
        raise InputError("file not found", path=path) from None
    except yaml.YAMLError as exc:
        mark = getattr(exc, "problem_mark", None)
        line = mark.line + 1 if mark is not None else None
        raise InputError(f"invalid YAML: {getattr(exc, 'problem', exc)}", path=path, line=line) from None
    except UnicodeDecodeError:
        raise InputError("not UTF-8 text", path=path) from None
    if not isinstance(raw, dict):
        raise InputError(f"expected a mapping at the top level, got {type(raw).__name__}", path=path)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        field, message = describe_validation_error(exc)
        raise InputError(message, path=path, field=field) from None


def _parse_line(line: str, lineno: int, path: Path, model: type[M]) -> M | None:
    """One JSONL line as a validated record (None for a blank line); errors name file, line and field."""
    if not line.strip():
        return None
    try:
        raw = json.loads(line)
    except json.JSONDecodeError as exc:
        raise InputError(f"invalid JSON ({exc.msg}); expected one JSON object per line", path=path, line=lineno) from None
    if not isinstance(raw, dict):
        raise InputError("expected a JSON object", path=path, line=lineno)
    try:
        return model.model_validate(raw)
    except ValidationError as exc:
        field, message = describe_validation_error(exc)
        raise InputError(message, path=path, line=lineno, field=field) from None


def iter_jsonl(path: Path, model: type[M]) -> Iterator[M]:
    """Yield one validated record per non-empty line; errors name file, line and field."""
    with path.open("r", encoding="utf-8", errors="strict") as fh:
        lineno = 0
        while True:
            try:
                line = fh.readline()
            except UnicodeDecodeError:
                raise InputError("not UTF-8 text", path=path, line=lineno + 1) from None
            if not line:
                return
            lineno += 1
            record = _parse_line(line, lineno, path, model)
            if record is not None:
                yield record


def iter_jsonl_lines(data: bytes, path: Path, model: type[M], *, first_line: int = 1) -> Iterator[M]:
    """`iter_jsonl` over a block of a file's bytes whose first line is line `first_line` of `path`."""
    for lineno, raw in enumerate(data.splitlines(), start=first_line):
        try:
            line = raw.decode("utf-8")
        except UnicodeDecodeError:
            raise InputError("not UTF-8 text", path=path, line=lineno) from None
        record = _parse_line(line, lineno, path, model)
        if record is not None:
            yield record


def iter_metrics_csv(path: Path) -> Iterator[MetricSample]:
    """Yield samples from a long-format `ts,service,instance,metric,value` CSV."""
    with path.open("r", encoding="utf-8", newline="") as fh:
        reader = csv.reader(fh)
        header = next(reader, None)
        expected = ["ts", "service", "instance", "metric", "value"]
        if header is None:
            return
        if [h.strip() for h in header[:5]] != expected:
            raise InputError(f"header must be {','.join(expected)}, got {','.join(header)}", path=path, line=1)
        cache: dict[str, datetime] = {}
        for lineno, row in enumerate(reader, start=2):
            if not row:
                continue
            if len(row) < 5:
                raise InputError(f"expected 5 columns, got {len(row)}", path=path, line=lineno)
            ts_text, service, instance, metric, value_text = row[:5]
            try:
                ts = cache.get(ts_text) or _parse_ts(ts_text)
                cache[ts_text] = ts
            except ValueError:
                raise InputError(f"ts: expected an RFC 3339 time, got {ts_text!r}", path=path, line=lineno) from None
            try:
                value = float(value_text)
            except ValueError:
                raise InputError(f"value: expected a number, got {value_text!r}", path=path, line=lineno) from None
            if not service:
                raise InputError("service: must not be empty", path=path, line=lineno)
            yield MetricSample.model_construct(ts=ts, service=service, instance=instance or None, metric=metric, value=value)


def _parse_ts(text: str) -> datetime:
    from lumos.tools.domain.base import as_utc

    return as_utc(datetime.fromisoformat(text.replace("Z", "+00:00")))


def _signature(root: Path) -> tuple:
    """What identifies the current contents of a case folder: each observable file's size and mtime."""
    sig = []
    for name in (CASE_FILE, *OBSERVABLE_FILES):
        try:
            st = (root / name).stat()
            sig.append((name, st.st_size, st.st_mtime_ns))
        except OSError:
            sig.append((name, None, None))
    return tuple(sig)


@lru_cache(maxsize=2)
def _open_case(root: Path, signature: tuple) -> "CaseFiles":
    return CaseFiles(root)


def open_case(root: str | Path) -> "CaseFiles":
    """The CaseFiles of a folder, shared by every caller in this process while its files are unchanged,
    so that one incident (triage, agents, correlation, remediation) parses each file once."""
    path = Path(root).resolve()
    if not path.is_dir():
        raise InputError("case folder not found", path=path)
    return _open_case(path, _signature(path))


class CaseFiles:
    """Read-only access to the observable files of one case folder; each file is parsed once
    (use `open_case` to share one instance between the nodes of an incident)."""

    def __init__(self, root: str | Path):
        self.root = Path(root)
        if not self.root.is_dir():
            raise InputError("case folder not found", path=self.root)
        if not (self.root / CASE_FILE).is_file():
            raise InputError(f"not a case folder: {CASE_FILE} is missing", path=self.root)

    def _path(self, name: str) -> Path:
        return self.root / name

    @cached_property
    def info(self) -> CaseInfo:
        """case.yaml."""
        return read_yaml(self._path(CASE_FILE), CaseInfo)

    @cached_property
    def alerts(self) -> list[Alert]:
        """alert.json, normalised (an Alertmanager v4 payload)."""
        path = self._path("alert.json")
        try:
            raw = json.loads(path.read_text(encoding="utf-8"))
        except FileNotFoundError:
            raise InputError("file not found; every case needs an alert", path=path) from None
        except json.JSONDecodeError as exc:
            raise InputError(f"invalid JSON ({exc.msg})", path=path, line=exc.lineno) from None
        try:
            return Alert.from_alertmanager(AlertmanagerPayload.model_validate(raw))
        except ValidationError as exc:
            field, message = describe_validation_error(exc)
            raise InputError(f"expected an Alertmanager v4 webhook payload: {message}", path=path, field=field) from None

    @property
    def alert(self) -> Alert:
        """The first firing alert of the case."""
        firing = [a for a in self.alerts if a.status == "firing"]
        return (firing or self.alerts)[0]

    @cached_property
    def logs(self) -> list[LogRecord]:
        """logs.jsonl sorted by time ([] when absent)."""
        path = self._path("logs.jsonl")
        return sorted(iter_jsonl(path, LogRecord), key=lambda r: r.ts) if path.is_file() else []

    @cached_property
    def span_table(self) -> "SpanTable":
        """spans.jsonl as columns sorted by start (empty when absent): parsed once, without span objects."""
        from lumos.tools.traces.table import read_spans_jsonl, table_from_spans

        path = self._path("spans.jsonl")
        return read_spans_jsonl(path) if path.is_file() else table_from_spans([])

    @cached_property
    def spans(self) -> list[Span]:
        """spans.jsonl sorted by start ([] when absent), as objects built from `span_table`."""
        return self.span_table.spans()

    @cached_property
    def span_index(self) -> "SpanIndex":
        """The spans linked into traces with their per-span facts and columns (built once from the
        table, shared by the agents; the ranking never builds span objects)."""
        from lumos.tools.traces.spans import index_table

        return index_table(self.span_table)

    @cached_property
    def metrics(self) -> list[MetricSample]:
        """metrics.csv ([] when absent)."""
        path = self._path("metrics.csv")
        return list(iter_metrics_csv(path)) if path.is_file() else []

    @cached_property
    def topology(self) -> Topology:
        """topology.yaml, or when absent one derived from what was observed: the services of the
        spans, logs, metrics, changes and alert, with call edges from span parentage."""
        path = self._path("topology.yaml")
        if path.is_file():
            return read_yaml(path, Topology)
        seen = {r.service for r in self.logs} | {m.service for m in self.metrics} | {c.service for c in self.changes}
        seen.update(a.service for a in self.alerts if a.service)
        return derive_topology(self.span_index, seen)

    @cached_property
    def changes(self) -> list[Change]:
        """changes.jsonl sorted by time ([] when absent)."""
        path = self._path("changes.jsonl")
        return sorted(iter_jsonl(path, Change), key=lambda c: c.ts) if path.is_file() else []

    def window(self) -> TimeWindow:
        """The span of the recorded data."""
        return self.info.window

    def load_all(self) -> "CaseFiles":
        """Parse every file now, so that errors surface before an incident starts."""
        _ = (self.info, self.alerts, self.logs, self.span_table, self.metrics, self.topology, self.changes)
        return self
