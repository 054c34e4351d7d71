"""What one log message says, beyond its template: error-ness, error codes (HTTP status,
exception class, errno, SQLSTATE), the top stack frame, a latency ("took 1234ms"), which
other services it names, whether the failure looks received from a callee (propagated) or
raised locally, and which fault types its wording suggests."""

from __future__ import annotations

import re

ERROR_LEVELS = frozenset({"ERROR", "FATAL", "CRITICAL", "SEVERE", "ERR", "CRIT", "ALERT", "EMERG", "PANIC"})
WARN_LEVELS = frozenset({"WARN", "WARNING"})

_ERROR_WORDS_RE = re.compile(
    r"\b(?:error|errors|exception|fail(?:ed|ure|ing)?|fatal|panic|refused|timed? ?out|timeout|unavailable|"
    r"unreachable|denied|abort(?:ed)?|crash(?:ed)?|killed|oom|traceback|cannot|can't|unable)\b|Exception\b|Error\b",
    re.IGNORECASE,
)
_EXCEPTION_RE = re.compile(r"\b((?:[a-zA-Z_][\w$]*\.)*[A-Z][\w$]*(?:Exception|Error|Fault))\b")
_HTTP_STATUS_RE = re.compile(
    r"(?:\b(?:status|code|status_code|statusCode|http)[\"']?\s*[:=]?\s*[\"']?|HTTP/\d(?:\.\d)?\"?\s+|\b)([45]\d\d)\b"
    r"(?=\s*(?:[A-Z][a-z]+|\"|,|;|\)|\]|$|\s))"
)
_HTTP_STATUS_WORDS_RE = re.compile(r"\b([45]\d\d)\s+(?:Internal Server Error|Bad Gateway|Service Unavailable|Gateway Time-?out|"
                                   r"Bad Request|Unauthorized|Forbidden|Not Found|Too Many Requests)\b", re.IGNORECASE)
_ERRNO_RE = re.compile(r"\b(E(?:CONNREFUSED|CONNRESET|TIMEDOUT|HOSTUNREACH|NETUNREACH|PIPE|NOSPC|MFILE|NOMEM|ACCES|NOENT|AGAIN|ADDRINUSE))\b")
_SQLSTATE_RE = re.compile(r"\bSQLSTATE[\s:=\[]*([0-9A-Z]{5})\b", re.IGNORECASE)
_FRAME_RE = re.compile(r"(?:^|\n)\s*at\s+([\w$.<>]+)\(([^)]*)\)")
_LATENCY_RE = re.compile(
    r"\b(?:took|took:|elapsed|duration|latency|in|after|time|cost|spent|response[_ ]time)[=:\s]\s*"
    r"(\d+(?:\.\d+)?)\s*(ms|msec|milliseconds?|s|sec|secs|seconds?|us|µs|μs)\b",
    re.IGNORECASE,
)
_URL_HOST_RE = re.compile(r"\b[a-z][a-z0-9+.-]*://([A-Za-z][\w-]*(?:\.[\w-]+)*)(?::\d+)?", re.IGNORECASE)
_UNIT_MS = {"ms": 1.0, "msec": 1.0, "millisecond": 1.0, "milliseconds": 1.0, "s": 1000.0, "sec": 1000.0, "secs": 1000.0,
            "second": 1000.0, "seconds": 1000.0, "us": 0.001, "µs": 0.001, "μs": 0.001}

# Wording that says the failure came from a callee (received), not raised here.
_PROPAGATED_RE = re.compile(
    r"timed? ?out|timeout|connection refused|connection reset|connect(?:ion)? (?:failed|error)|broken pipe|"
    r"no route to host|unreachable|No instances available|I/O error on|HttpServerErrorException|HttpClientErrorException|"
    r"FeignException|RestClientException|ResourceAccessException|upstream|downstream|remote service|"
    r"status code:? 5\d\d|returned (?:status )?5\d\d|503 Service Unavailable|502 Bad Gateway|504 Gateway|"
    r"circuit ?breaker|retry(?:ing)? (?:request|call)|calling \S+ failed|RPC failed|rpc error",
    re.IGNORECASE,
)

# Service-discovery / name-resolution failures: the client found no address for a callee in its
# registry or DNS. Such lines come in bursts whenever a registry refreshes or an instance's
# health check flaps, with or without an incident, and say nothing about the callee's own code.
_DISCOVERY_RE = re.compile(
    r"No instances available for|no healthy upstream|UnknownHostException|Name or service not known|"
    r"no such host|Temporary failure in name resolution|could not resolve host|Load balancer does not have available server",
    re.IGNORECASE,
)

# Fault-type wording: (fault_type, pattern, weight)
_HINTS: tuple[tuple[str, re.Pattern[str], float], ...] = tuple(
    (fault, re.compile(pattern, re.IGNORECASE), weight)
    for fault, pattern, weight in (
        ("memory_pressure", r"OutOfMemory|\bOOM|out of memory|heap space|GC overhead|memory (?:limit|pressure)|"
                            r"cannot allocate memory|ENOMEM|gc pause|full gc|Allocation Failure|\bGC\b[^\n]{0,80}\bpause", 1.0),
        ("resource_exhaustion", r"pool (?:is )?exhausted|exhausted|Connection is not available|too many (?:open files|connections)|"
                                r"EMFILE|no space left|ENOSPC|disk (?:is )?full|disk usage|inodes|quota|RejectedExecution|thread pool|"
                                r"rate limit|max(?:imum)? (?:connections|pool)|pool size|executor (?:saturated|rejected|queue)|queue (?:is )?full|"
                                r"(?:executor|pool|queue|workers?) (?:is )?saturated", 1.0),
        ("crash_loop", r"restart(?:ed|ing)?|crash(?:ed|loop)?|back-?off|segfault|segmentation fault|exited with|"
                       r"core dumped|SIGKILL|SIGSEGV|shutting down|terminated unexpectedly|liveness probe failed", 1.0),
        ("config_change", r"\b(?:invalid|bad|missing|unknown|malformed|wrong) (?:config|configuration|setting|option|property|value)|"
                          r"\bconfig(?:uration)? (?:error|invalid|validation|reload(?:ed)?|changed|not found|mismatch)|"
                          r"(?:failed to|cannot|could not) (?:load|parse|read|resolve) (?:config|configuration|settings|placeholder)|"
                          r"placeholder|parse error|failed to parse|missing (?:key|env)|\.ya?ml\b|feature flag|configured [\w. -]{1,40}? (?:is|=) ", 0.8),
        ("bad_deploy", r"ClassNotFound|NoSuchMethod|NoClassDefFound|LinkageError|version mismatch|incompatible|"
                       r"migration|deploy(?:ed|ment)?|rollout|schema|SQLGrammarException|(?:column|relation|table) \S+ does not exist|"
                       r"(?:no such|unknown) column", 0.8),
        ("network_loss", r"connection (?:refused|reset)|ECONNREFUSED|ECONNRESET|broken pipe|no route to host|unreachable|"
                         r"EHOSTUNREACH|packet loss|connection (?:closed|aborted)|socket hang up|retransmi(?:t|ssion)", 1.0),
        ("network_delay", r"timed? ?out|timeout|ETIMEDOUT|slow|latency|took too long|deadline exceeded", 1.0),
        ("dependency_outage", r"No instances available|service unavailable|503|unavailable|could not connect|"
                              r"cannot connect|connection to \S+ failed|database is down|no healthy upstream|"
                              r"Communications link failure|CannotGetJdbcConnection", 0.9),
        ("cpu_saturation", r"\bcpu\b|high load|load average|throttled|starv|run queue|event loop (?:blocked|lag)|"
                           r"clock leap|GOMAXPROCS", 0.8),
        ("error_injection", r"Exception|\bError\b|5\d\d Internal|Internal Server Error|threw exception|stack ?trace|"
                            r"Traceback|panic", 0.6),
        ("bad_response", r"invalid|mismatch|unexpected (?:value|result|response)|wrong|null\b|not found|"
                         r"inconsistent|validation", 0.6),
    )
)


def is_error(level: str | None, message: str) -> bool:
    """True for an error-level line, or an unlevelled line whose wording is an error."""
    if level:
        up = level.upper()
        if up in ERROR_LEVELS:
            return True
        if up in WARN_LEVELS or up in ("INFO", "DEBUG", "TRACE", "NOTICE"):
            return False
    return bool(_ERROR_WORDS_RE.search(message))


def is_warning(level: str | None) -> bool:
    """True for a warning-level line."""
    return bool(level) and level.upper() in WARN_LEVELS  # type: ignore[union-attr]


def error_codes(message: str) -> list[str]:
    """Error codes in a message: `http:503`, `exc:java.net.SocketTimeoutException`,
    `errno:ECONNREFUSED`, `sqlstate:08006` (deduplicated, in order of appearance)."""
    codes: list[str] = []
    for m in _EXCEPTION_RE.finditer(message):
        codes.append(f"exc:{m.group(1)}")
    for m in _HTTP_STATUS_WORDS_RE.finditer(message):
        codes.append(f"http:{m.group(1)}")
    if not any(c.startswith("http:") for c in codes):
        for m in _HTTP_STATUS_RE.finditer(message):
            if m.group(0)[:1].isdigit() and not re.search(r"(?:status|code|HTTP)", message, re.IGNORECASE):
                continue  # a bare 3-digit number is only a status next to a status word
            codes.append(f"http:{m.group(1)}")
    codes.extend(f"errno:{m.group(1)}" for m in _ERRNO_RE.finditer(message))
    codes.extend(f"sqlstate:{m.group(1).upper()}" for m in _SQLSTATE_RE.finditer(message))
    return list(dict.fromkeys(codes))


def top_frame(message: str) -> str | None:
    """The first `at pkg.Class.method(File.java:12)` frame of a stack trace in the message."""
    m = _FRAME_RE.search(message)
    return m.group(1) if m else None


def latency_ms(message: str) -> float | None:
    """A duration stated in the message ("took 1234ms", "in 1.2 s", "duration=35ms"), in ms."""
    m = _LATENCY_RE.search(message)
    if not m:
        return None
    return float(m.group(1)) * _UNIT_MS[m.group(2).lower()]


def is_propagated(message: str) -> bool:
    """True when the wording says the failure was received from a callee (timeout, refused,
    5xx from a client call, no instances) rather than raised by this service."""
    return bool(_PROPAGATED_RE.search(message))


def is_discovery_failure(message: str) -> bool:
    """True when the line reports that a callee could not be found (service registry, DNS):
    weak, noisy evidence that is neither an error of this service nor of the callee it names."""
    return bool(_DISCOVERY_RE.search(message))


def mentioned_services(message: str, services: frozenset[str] | set[str], own: str) -> list[str]:
    """Service names (other than `own`) the message names: known services as whole words, and
    the host of any URL it contains (`http://payments:8080/...` names `payments`)."""
    lower = message.lower()
    found = [host for host in (m.group(1).split(".")[0] for m in _URL_HOST_RE.finditer(message))
             if host != own and host.lower() not in ("localhost", "www") and not host.isdigit()]
    for name in services:
        if name == own or len(name) < 3:
            continue
        i = lower.find(name.lower())
        while i >= 0:
            end = i + len(name)
            before = lower[i - 1] if i > 0 else " "
            after = lower[end] if end < len(lower) else " "
            if not (before.isalnum() or before in "-_") and not (after.isalnum() or after in "-_"):
                found.append(name)
                break
            i = lower.find(name.lower(), i + 1)
    return sorted(set(found))


def fault_hints(message: str) -> dict[str, float]:
    """Fault types suggested by the wording of one message, with a weight 0-1 each."""
    return {fault: weight for fault, pattern, weight in _HINTS if pattern.search(message)}
