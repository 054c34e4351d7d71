"""Schema-driven fuzzing of the HTTP API with hypothesis: every operation in /openapi.json gets random
path and query values, valid-then-mutated or arbitrary bodies, and random tokens and content types.
The only property checked is the one that matters at a boundary: no 5xx, ever."""

from __future__ import annotations

import json
import re
from collections import Counter
from typing import Any
from urllib.parse import quote

from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from lumos.app.server.payloads import sign_pagerduty
from fixtures_serve.procs import TOKENS

JSON = st.recursive(
    st.none() | st.booleans() | st.integers(-(2**70), 2**70) | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=20),
    lambda inner: st.lists(inner, max_size=4) | st.dictionaries(st.text(max_size=12), inner, max_size=4),
    max_leaves=12,
)

VALID_BODIES: dict[str, dict[str, Any]] = {
    "/webhooks/alertmanager": {"version": "4", "status": "firing", "alerts": [{"status": "firing", "labels": {"alertname": "Fuzz", "service": "svc"},
                                "startsAt": "2025-05-24T11:21:51Z", "fingerprint": "fz1"}]},
    "/webhooks/generic": {"version": "1", "alerts": [{"name": "Fuzz", "service": "svc", "fingerprint": "fz2"}]},
    "/webhooks/pagerduty": {"event": {"id": "E1", "event_type": "incident.triggered", "resource_type": "incident",
                            "occurred_at": "2025-05-24T11:22:00Z", "data": {"id": "P1", "title": "Fuzz"}}},
    "/incidents/{incident_id}/approvals/{step}": {"decision": "approve", "gate_id": "g-" + "0" * 32, "params_hash": "0" * 64,
                                                  "comment": "fuzz"},
}


@st.composite
def mutated(draw: st.DrawFn, template: dict[str, Any]) -> Any:
    """A valid body with one nested value replaced, removed, or a field added."""
    body = json.loads(json.dumps(template))
    node: Any = body
    while isinstance(node, (dict, list)) and node and draw(st.booleans()):
        key = draw(st.sampled_from(sorted(node) if isinstance(node, dict) else list(range(len(node)))))
        if not isinstance(node[key], (dict, list)) or not node[key]:
            break
        node = node[key]
    if isinstance(node, dict) and node:
        key = draw(st.sampled_from(sorted(node)))
        action = draw(st.sampled_from(["replace", "delete", "add"]))
        if action == "replace":
            node[key] = draw(JSON)
        elif action == "delete":
            del node[key]
        else:
            node[draw(st.text(min_size=1, max_size=8))] = draw(JSON)
    return body


def operations(spec: dict[str, Any]) -> list[tuple[str, str]]:
    """(method, path template) of every documented operation."""
    return [(method.upper(), path) for path, item in spec["paths"].items() for method in item]


@st.composite
def requests(draw: st.DrawFn, ops: list[tuple[str, str]], known_ids: list[str]) -> dict[str, Any]:
    """One request: operation, URL with filled parameters, headers and body bytes."""
    method, template = draw(st.sampled_from(ops))
    path = template
    for name in re.findall(r"{(\w+)}", template):
        value = draw(st.sampled_from(known_ids + ["1", "0"]) | st.text(max_size=40))
        path = path.replace("{" + name + "}", quote(value, safe="") or "x")
    query = draw(st.dictionaries(st.sampled_from(["limit", "offset", "status", "after", "x"]),
                                 st.integers(-(10**12), 10**12).map(str) | st.text(max_size=12), max_size=3))
    token = draw(st.sampled_from([TOKENS["admin"], TOKENS["victor"], TOKENS["alertmanager"], "garbage", None]))
    headers = {"Authorization": f"Bearer {token}"} if token else {}
    ctype = draw(st.sampled_from(["application/json", "application/json; charset=utf-8", "text/plain", None]))
    if ctype:
        headers["Content-Type"] = ctype
    body: bytes = b""
    if method == "POST":
        template_body = VALID_BODIES.get(template)
        choice = draw(st.sampled_from(["mutated", "valid", "json", "bytes"]) if template_body else st.sampled_from(["json", "bytes"]))
        if choice == "bytes":
            body = draw(st.binary(max_size=300))
        else:
            value = template_body if choice == "valid" else draw(mutated(template_body)) if choice == "mutated" else draw(JSON)
            body = json.dumps(value).encode()
        if template == "/webhooks/pagerduty" and draw(st.booleans()):
            headers["X-PagerDuty-Signature"] = sign_pagerduty("fuzz-secret", body)
    return {"method": method, "url": path, "params": query, "headers": headers, "content": body, "stream": template.endswith("/events")}


def send(client: Any, request: dict[str, Any]) -> int:
    """Send one request (event streams are opened and closed at once); return the status code."""
    kwargs = {k: request[k] for k in ("params", "headers", "content")}
    if request["stream"]:
        with client.stream(request["method"], request["url"], **kwargs) as response:
            return response.status_code
    return client.request(request["method"], request["url"], **kwargs).status_code


def fuzz(client: Any, spec: dict[str, Any], *, examples: int, known_ids: list[str], derandomize: bool = True) -> Counter:
    """Run `examples` random requests; raise AssertionError on the first 5xx; return status counts."""
    counts: Counter = Counter()
    ops = operations(spec)

    @settings(max_examples=examples, deadline=None, derandomize=derandomize, database=None,
              suppress_health_check=list(HealthCheck))
    @given(requests(ops, known_ids))
    def check(request: dict[str, Any]) -> None:
        status = send(client, request)
        counts[status] += 1
        assert status < 500, f"{status} for {request['method']} {request['url']} {request['content'][:200]!r}"

    check()
    return counts
