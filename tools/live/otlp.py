"""Decode OTLP/HTTP trace export requests (protobuf or JSON, as the OTLP specification defines
them) into LUMOS spans.

protobuf: `ExportTraceServiceRequest` from the official `opentelemetry-proto` package. JSON: the
OTLP/JSON mapping of the same message (lowerCamelCase keys, trace and span ids as hex strings,
64-bit integers as strings or numbers, enums as integers); unknown fields are ignored as the
specification requires, but a body that is not that shape is an `OtlpError` (HTTP 400).
The service is the resource's `service.name`; the instance is `service.instance.id`,
`k8s.pod.name` or `host.name`. Spans with malformed ids are rejected (counted, not stored).
"""

from __future__ import annotations

import json
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from datetime import datetime, timezone
from typing import Any

from lumos.tools.domain import Span

INSTANCE_KEYS = ("service.instance.id", "k8s.pod.name", "host.name")
STATUS = {0: None, 1: "OK", 2: "ERROR", "STATUS_CODE_UNSET": None, "STATUS_CODE_OK": "OK", "STATUS_CODE_ERROR": "ERROR"}


class OtlpError(ValueError):
    """The body is not an OTLP trace export request."""


@dataclass
class Decoded:
    """Spans decoded from one request, and how many were rejected (with the first reason)."""

    spans: list[Span] = field(default_factory=list)
    rejected: int = 0
    reason: str = ""

    def reject(self, why: str) -> None:
        """Count one rejected span."""
        self.rejected += 1
        self.reason = self.reason or why


def _time(nanos: int) -> datetime:
    return datetime.fromtimestamp(nanos / 1e9, tz=timezone.utc)


def _add(out: Decoded, *, trace_id: str, span_id: str, parent: str, service: str, instance: str | None, name: str,
         start_ns: int, end_ns: int, status: str | None) -> None:
    if len(trace_id) != 32 or trace_id == "0" * 32 or len(span_id) != 16 or span_id == "0" * 16:
        out.reject("trace_id must be 16 bytes and span_id 8 bytes, not all zero")
        return
    if start_ns <= 0:
        out.reject("startTimeUnixNano must be set")
        return
    out.spans.append(Span.model_construct(
        trace_id=trace_id, span_id=span_id, parent_span_id=parent or None, service=service, instance=instance,
        operation=name, start=_time(start_ns), duration_ms=max(0.0, (end_ns - start_ns) / 1e6), status=status))


def decode_protobuf(body: bytes) -> Decoded:
    """Spans of a binary `ExportTraceServiceRequest`."""
    from google.protobuf.message import DecodeError
    from opentelemetry.proto.collector.trace.v1.trace_service_pb2 import ExportTraceServiceRequest

    request = ExportTraceServiceRequest()
    try:
        request.ParseFromString(body)
    except (DecodeError, ValueError) as exc:
        raise OtlpError(f"not a protobuf ExportTraceServiceRequest: {exc}") from None
    out = Decoded()
    for rs in request.resource_spans:
        attrs = {kv.key: kv.value.string_value for kv in rs.resource.attributes if kv.value.HasField("string_value")}
        service = attrs.get("service.name") or "unknown_service"
        instance = next((attrs[k] for k in INSTANCE_KEYS if attrs.get(k)), None)
        for ss in rs.scope_spans:
            for sp in ss.spans:
                _add(out, trace_id=sp.trace_id.hex(), span_id=sp.span_id.hex(), parent=sp.parent_span_id.hex(), service=service,
                     instance=instance, name=sp.name, start_ns=sp.start_time_unix_nano, end_ns=sp.end_time_unix_nano,
                     status=STATUS.get(sp.status.code))
    return out


def _list(node: Mapping[str, Any], key: str, where: str) -> list[Any]:
    value = node.get(key, [])
    if value is None:
        return []
    if not isinstance(value, list):
        raise OtlpError(f"{where}.{key} must be an array, got {type(value).__name__}")
    return value


def _obj(value: Any, where: str) -> Mapping[str, Any]:
    if not isinstance(value, dict):
        raise OtlpError(f"{where} must be an object, got {type(value).__name__}")
    return value


def _int(value: Any, where: str) -> int:
    if isinstance(value, bool) or not isinstance(value, (int, str)):
        raise OtlpError(f"{where} must be an integer or a decimal string")
    try:
        return int(value)
    except ValueError:
        raise OtlpError(f"{where} must be an integer or a decimal string, got {value!r}") from None


def _hex(value: Any, where: str) -> str:
    if value in (None, ""):
        return ""
    if not isinstance(value, str):
        raise OtlpError(f"{where} must be a hex string")
    text = value.lower()
    if any(c not in "0123456789abcdef" for c in text):
        raise OtlpError(f"{where} must be hex (OTLP/JSON encodes ids as hex, not base64), got {value[:40]!r}")
    return text


def _string_attrs(items: list[Any], where: str) -> dict[str, str]:
    out: dict[str, str] = {}
    for i, item in enumerate(items):
        kv = _obj(item, f"{where}[{i}]")
        value = kv.get("value")
        if isinstance(kv.get("key"), str) and isinstance(value, dict) and isinstance(value.get("stringValue"), str):
            out[kv["key"]] = value["stringValue"]
    return out


def _json_spans(data: Any) -> Iterator[tuple[str, str | None, Mapping[str, Any], str]]:
    root = _obj(data, "body")
    for i, rs in enumerate(_list(root, "resourceSpans", "body")):
        where = f"resourceSpans[{i}]"
        rs = _obj(rs, where)
        resource = _obj(rs.get("resource") or {}, f"{where}.resource")
        attrs = _string_attrs(_list(resource, "attributes", f"{where}.resource"), f"{where}.resource.attributes")
        service = attrs.get("service.name") or "unknown_service"
        instance = next((attrs[k] for k in INSTANCE_KEYS if attrs.get(k)), None)
        scopes = _list(rs, "scopeSpans", where) or _list(rs, "instrumentationLibrarySpans", where)
        for j, ss in enumerate(scopes):
            swhere = f"{where}.scopeSpans[{j}]"
            for k, sp in enumerate(_list(_obj(ss, swhere), "spans", swhere)):
                yield service, instance, _obj(sp, f"{swhere}.spans[{k}]"), f"{swhere}.spans[{k}]"


def decode_json(body: bytes) -> Decoded:
    """Spans of an OTLP/JSON `ExportTraceServiceRequest`."""
    try:
        data = json.loads(body)
    except (UnicodeDecodeError, json.JSONDecodeError) as exc:
        raise OtlpError(f"not JSON: {exc}") from None
    out = Decoded()
    for service, instance, sp, where in _json_spans(data):
        status = _obj(sp.get("status") or {}, f"{where}.status").get("code", 0)
        if status not in STATUS:
            raise OtlpError(f"{where}.status.code must be 0, 1 or 2, got {status!r}")
        name = sp.get("name", "")
        if not isinstance(name, str):
            raise OtlpError(f"{where}.name must be a string")
        _add(out, trace_id=_hex(sp.get("traceId"), f"{where}.traceId"), span_id=_hex(sp.get("spanId"), f"{where}.spanId"),
             parent=_hex(sp.get("parentSpanId"), f"{where}.parentSpanId"), service=service, instance=instance, name=name,
             start_ns=_int(sp.get("startTimeUnixNano", 0), f"{where}.startTimeUnixNano"),
             end_ns=_int(sp.get("endTimeUnixNano", 0), f"{where}.endTimeUnixNano"), status=STATUS[status])
    return out
