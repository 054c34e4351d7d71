"""Parsing log lines of common shapes into (time, level, service, message), robustly.

Shapes: `raw` (the whole line is the message), `jsonl` (case `logs.jsonl`, ECS, bunyan...),
`logfmt`, `plain` ("<timestamp> <level> <message>"), `syslog` (RFC 3164 and 5424) and
`header` (a Loghub-style header ending in a level word; only the message and level are read).
Mining needs only the message and finds it without this module (`lumos.tools.logs.spans`).
A line that cannot be parsed yields a skip reason instead of raising: bad lines are counted,
never fatal.
"""

from __future__ import annotations

import json
import re
from datetime import datetime, timedelta, timezone
from typing import Any, Literal

from pydantic import BaseModel, ConfigDict

from lumos.tools.logs.spans import span_header

LogFormat = Literal["raw", "jsonl", "logfmt", "plain", "syslog", "header"]
LOG_FORMATS: tuple[str, ...] = ("raw", "jsonl", "logfmt", "plain", "syslog", "header")

LEVELS: dict[str, str] = {
    "trace": "TRACE", "debug": "DEBUG", "dbg": "DEBUG", "info": "INFO", "information": "INFO",
    "notice": "INFO", "warn": "WARN", "warning": "WARN", "err": "ERROR", "error": "ERROR",
    "severe": "ERROR", "crit": "FATAL", "critical": "FATAL", "fatal": "FATAL", "alert": "FATAL",
    "emerg": "FATAL", "emergency": "FATAL", "panic": "FATAL",
}
_SYSLOG_SEVERITY = ("FATAL", "FATAL", "FATAL", "ERROR", "WARN", "INFO", "INFO", "DEBUG")
_MONTHS = {m: i for i, m in enumerate(("jan", "feb", "mar", "apr", "may", "jun", "jul", "aug", "sep", "oct", "nov", "dec"), 1)}

_MESSAGE_KEYS = ("message", "msg", "log", "text", "@message", "body")
_TIME_KEYS = ("ts", "@timestamp", "timestamp", "time", "t", "datetime", "date")
_LEVEL_KEYS = ("level", "log.level", "severity", "lvl", "loglevel", "levelname")
_SERVICE_KEYS = ("service", "service.name", "app", "application", "logger", "component", "name")

_ISO_RE = re.compile(
    r"(\d{4})-(\d{2})-(\d{2})[T ](\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,9}))?\s?(Z|[+-]\d{2}:?\d{2}|UTC)?",
)
_CLASSIC_RE = re.compile(r"(?:[A-Za-z]{3},?\s+)?([A-Za-z]{3})\s+(\d{1,2})\s+(\d{2}):(\d{2}):(\d{2})(?:[.,](\d{1,6}))?")
_PLAIN_RE = re.compile(
    r"^\[?(?P<ts>\d{4}-\d{2}-\d{2}[T ]\d{2}:\d{2}:\d{2}(?:[.,]\d{1,9})?\s?(?:Z|[+-]\d{2}:?\d{2}|UTC)?|\d{9,13}(?:\.\d+)?)\]?"
    r"\s+\[?(?P<level>[A-Za-z]{3,11})\]?:?\s+(?P<msg>.*)$"
)
_RFC5424_RE = re.compile(r"^<(?P<pri>\d{1,3})>1 (?P<ts>\S+) (?P<host>\S+) (?P<app>\S+) \S+ \S+ (?:-|\[.*?\]) ?(?P<msg>.*)$")
_RFC3164_RE = re.compile(
    r"^(?:<(?P<pri>\d{1,3})>)?(?P<ts>[A-Za-z]{3}\s+\d{1,2}\s+\d{2}:\d{2}:\d{2})\s+(?P<host>\S+)\s+"
    r"(?P<app>[^\s:\[]+)(?:\[(?P<pid>\d+)\])?:\s?(?P<msg>.*)$"
)
_LOGFMT_RE = re.compile(r'([\w.@-]+)=("(?:[^"\\]|\\.)*"|\S*)')


class ParsedLine(BaseModel):
    """One parsed log line; `message` is the text to mine, the rest may be unknown."""

    model_config = ConfigDict(frozen=True)

    message: str
    ts: datetime | None = None
    level: str | None = None
    service: str | None = None


def normalize_level(text: str | None) -> str | None:
    """Canonical level (TRACE/DEBUG/INFO/WARN/ERROR/FATAL) or None when unknown."""
    if not text:
        return None
    return LEVELS.get(text.strip().strip("[]:").lower())


def parse_timestamp(text: str, *, default_year: int = 1970) -> datetime | None:
    """Parse ISO 8601 / RFC 3339, epoch seconds or milliseconds, or a syslog-style
    "Mon DD HH:MM:SS" stamp (in `default_year`) into an aware UTC datetime; None if unparseable."""
    text = text.strip()
    if not text:
        return None
    if re.fullmatch(r"\d{9,13}(?:\.\d+)?", text):
        value = float(text)
        if value > 1e11:
            value /= 1000.0
        return datetime.fromtimestamp(value, tz=timezone.utc)
    m = _ISO_RE.match(text)
    if m:
        year, month, day, hh, mm, ss, frac, tz = m.groups()
        micro = int((frac or "0")[:6].ljust(6, "0"))
        try:
            dt = datetime(int(year), int(month), int(day), int(hh), int(mm), int(ss), micro, tzinfo=timezone.utc)
        except ValueError:
            return None
        if tz and tz not in ("Z", "UTC"):
            sign = 1 if tz[0] == "+" else -1
            digits = tz[1:].replace(":", "")
            dt -= sign * timedelta(hours=int(digits[:2]), minutes=int(digits[2:4]))
        return dt
    m = _CLASSIC_RE.match(text)
    if m and m.group(1).lower() in _MONTHS:
        mon, day, hh, mm, ss, frac = m.groups()
        try:
            return datetime(default_year, _MONTHS[mon.lower()], int(day), int(hh), int(mm), int(ss),
                            int((frac or "0")[:6].ljust(6, "0")), tzinfo=timezone.utc)
        except ValueError:
            return None
    return None


def _first(obj: dict[str, Any], keys: tuple[str, ...]) -> Any:
    """The first scalar value among `keys` (dotted keys also look into nested objects)."""
    for key in keys:
        if key in obj and not isinstance(obj[key], (dict, list)):
            return obj[key]
        if "." in key:
            node: Any = obj
            for part in key.split("."):
                node = node.get(part) if isinstance(node, dict) else None
            if node is not None and not isinstance(node, (dict, list)):
                return node
    return None


def _parse_jsonl(line: str) -> ParsedLine | str:
    try:
        obj = json.loads(line)
    except ValueError:
        return "invalid_json"
    if not isinstance(obj, dict):
        return "invalid_json"
    message = _first(obj, _MESSAGE_KEYS)
    if message is None:
        return "no_message"
    ts_raw = _first(obj, _TIME_KEYS)
    ts = parse_timestamp(str(ts_raw)) if ts_raw is not None else None
    if ts_raw is not None and ts is None:
        return "bad_timestamp"
    level = _first(obj, _LEVEL_KEYS)
    service = _first(obj, _SERVICE_KEYS)
    return ParsedLine(message=str(message), ts=ts, level=normalize_level(str(level)) if level is not None else None,
                      service=str(service) if isinstance(service, (str, int)) else None)


def _parse_logfmt(line: str) -> ParsedLine | str:
    pairs = {k: (v[1:-1].replace('\\"', '"') if v.startswith('"') else v) for k, v in _LOGFMT_RE.findall(line)}
    if not pairs:
        return "not_logfmt"
    message = _first(pairs, _MESSAGE_KEYS)
    if message is None:
        return "no_message"
    ts_raw = _first(pairs, _TIME_KEYS)
    ts = parse_timestamp(ts_raw) if ts_raw else None
    if ts_raw and ts is None:
        return "bad_timestamp"
    return ParsedLine(message=message, ts=ts, level=normalize_level(_first(pairs, _LEVEL_KEYS)),
                      service=_first(pairs, _SERVICE_KEYS))


def _parse_plain(line: str) -> ParsedLine | str:
    m = _PLAIN_RE.match(line)
    if not m:
        return "bad_timestamp" if not _ISO_RE.match(line) else "no_level"
    ts = parse_timestamp(m.group("ts"))
    if ts is None:
        return "bad_timestamp"
    level = normalize_level(m.group("level"))
    message = m.group("msg") if level else f"{m.group('level')} {m.group('msg')}"
    return ParsedLine(message=message, ts=ts, level=level)


def _parse_syslog(line: str, default_year: int) -> ParsedLine | str:
    m = _RFC5424_RE.match(line) or _RFC3164_RE.match(line)
    if not m:
        return "not_syslog"
    ts = parse_timestamp(m.group("ts"), default_year=default_year)
    if ts is None:
        return "bad_timestamp"
    pri = m.group("pri")
    level = _SYSLOG_SEVERITY[int(pri) % 8] if pri else None
    return ParsedLine(message=m.group("msg"), ts=ts, level=level, service=m.group("app"))


def _parse_header(line: str) -> ParsedLine | str:
    data = line.encode("utf-8", "surrogateescape")
    found = span_header(data)
    if isinstance(found, str):
        return found
    words = data[:found[0]].split()
    level = normalize_level(words[-1].decode("utf-8", "replace").strip("[]<>():")) if words else None
    return ParsedLine(message=data[found[0]:found[1]].decode("utf-8", "replace"), level=level)


def parse_line(line: str, fmt: LogFormat = "raw", *, default_year: int = 1970) -> ParsedLine | str:
    """Parse one line (without its newline); returns a ParsedLine or a short skip reason."""
    if fmt == "raw":
        return ParsedLine(message=line)
    if fmt == "jsonl":
        return _parse_jsonl(line)
    if fmt == "logfmt":
        return _parse_logfmt(line)
    if fmt == "plain":
        return _parse_plain(line)
    if fmt == "syslog":
        return _parse_syslog(line, default_year)
    if fmt == "header":
        return _parse_header(line)
    raise ValueError(f"unknown log format {fmt!r}; expected one of {', '.join(LOG_FORMATS)}")
