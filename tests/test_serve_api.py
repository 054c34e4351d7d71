"""The HTTP API in process: auth, webhooks, grouping, dedup, approvals, events, bad input."""

from __future__ import annotations

import json
import time

import pytest
from fastapi.testclient import TestClient

from lumos.app.server.app import create_app
from lumos.app.server.config import ServerSettings, parse_tokens
from lumos.app.server.payloads import sign_pagerduty
from lumos.graph.gate import bind
from lumos.tools.errors import InputError
from fixtures_serve.procs import DEMO_CASE, TOKEN_ENV, auth, decision_body, wait_until

PD_SECRET = "pd-secret-for-tests"


def am_payload(status: str = "firing", service: str = "frontend", name: str = "HTTP5xxRatioHigh", fp: str | None = None) -> dict:
    labels = {"alertname": name, "service": service, "severity": "critical"}
    alert = {"status": status, "labels": labels, "annotations": {"summary": f"{name} on {service}"},
             "startsAt": "2025-05-24T11:21:51Z", "endsAt": "0001-01-01T00:00:00Z"}
    if fp:
        alert["fingerprint"] = fp
    return {"version": "4", "status": status, "receiver": "lumos", "groupKey": "{}:{}", "alerts": [alert], "extraField": 1}


def pd_event(event_type: str = "incident.triggered", incident: str = "PGR0VU2") -> dict:
    return {"event": {"id": f"01{event_type}", "event_type": event_type, "resource_type": "incident",
                      "occurred_at": "2025-05-24T11:22:00Z", "agent": None, "unknown": True,
                      "data": {"id": incident, "type": "incident", "title": "Checkout down", "status": "triggered",
                               "urgency": "high", "service": {"id": "PSVC", "summary": "checkout", "type": "service_reference"}}}}


def make_client(tmp_path, **overrides) -> TestClient:
    base = dict(home=tmp_path / "home", api_tokens=parse_tokens(TOKEN_ENV), data_case=DEMO_CASE, poll_s=0.05,
                sse_max_s=3, pagerduty_secret=PD_SECRET)
    return TestClient(create_app(ServerSettings(**{**base, **overrides})))


@pytest.fixture
def client(tmp_path):
    with make_client(tmp_path) as c:
        yield c


def wait_state(client: TestClient, incident_id: str, states=("waiting", "done", "failed"), timeout: float = 60) -> dict:
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        detail = client.get(f"/incidents/{incident_id}", headers=auth("victor")).json()
        if detail["incident"]["run_state"] in states:
            return detail
        time.sleep(0.05)
    raise AssertionError(f"{incident_id} did not reach {states}")


def test_tokens_parse_and_bad_entries_name_the_variable():
    tokens = parse_tokens(TOKEN_ENV)
    assert [t.role.name for t in tokens] == ["admin", "approver", "viewer", "responder"]
    with pytest.raises(InputError, match="LUMOS_API_TOKENS"):
        parse_tokens("bob:superuser:0123456789abcdef")
    with pytest.raises(InputError, match="name:role:token"):
        parse_tokens("bob-only")
    assert ServerSettings.from_env({"LUMOS_API_TOKENS": TOKEN_ENV, "LUMOS_GROUP_BY": "alertname, env"}).group_by == ["alertname", "env"]


def test_every_endpoint_but_healthz_needs_a_token(client):
    assert client.get("/healthz").status_code == 200
    for method, path in [("GET", "/openapi.json"), ("GET", "/incidents"), ("GET", "/incidents/x"), ("GET", "/incidents/x/audit"),
                         ("GET", "/incidents/x/events"), ("POST", "/incidents/x/approvals/1"),
                         ("POST", "/webhooks/alertmanager"), ("POST", "/webhooks/pagerduty"), ("POST", "/webhooks/generic")]:
        assert client.request(method, path).status_code == 401, path
        assert client.request(method, path, headers={"Authorization": "Bearer wrong-token-0123456789"}).status_code == 401
    assert client.post("/webhooks/generic", headers=auth("victor"), json={}).status_code == 403


def test_alertmanager_alert_opens_incident_that_stops_at_gate_and_dedups(client):
    first = client.post("/webhooks/alertmanager", json=am_payload(), headers=auth("alertmanager"))
    assert first.status_code == 200, first.text
    result = first.json()["results"][0]
    assert result["outcome"] == "new_incident"
    again = client.post("/webhooks/alertmanager", json=am_payload(), headers=auth("alertmanager")).json()
    assert again["results"][0] == {**result, "outcome": "duplicate"}
    detail = wait_state(client, result["incident_id"])
    assert detail["incident"]["run_state"] == "waiting" and detail["pending"]["destructive"] is True
    assert detail["hypotheses"] and detail["evidence"] and detail["plan"]
    assert "graph LR" in detail["dependency_mermaid"]
    listed = client.get("/incidents", headers=auth("victor")).json()
    assert [i["incident_id"] for i in listed] == [result["incident_id"]]


def test_grouping_by_labels_and_resolution(client):
    hook = "/webhooks/alertmanager"
    a = client.post(hook, json=am_payload(fp="fp-a"), headers=auth("alertmanager")).json()["results"][0]
    b = client.post(hook, json=am_payload(fp="fp-b"), headers=auth("alertmanager")).json()["results"][0]
    other = client.post(hook, json=am_payload(fp="fp-c", service="cart"), headers=auth("alertmanager")).json()["results"][0]
    assert b["outcome"] == "grouped" and b["incident_id"] == a["incident_id"]
    assert other["outcome"] == "new_incident" and other["incident_id"] != a["incident_id"]
    resolved = client.post(hook, json=am_payload("resolved", fp="fp-a"), headers=auth("alertmanager")).json()["results"][0]
    assert resolved["outcome"] == "resolved"
    row = client.get(f"/incidents/{a['incident_id']}", headers=auth("victor")).json()["incident"]
    assert (row["alert_status"], row["alerts_firing"], row["alerts_total"]) == ("firing", 1, 2)
    client.post(hook, json=am_payload("resolved", fp="fp-b"), headers=auth("alertmanager"))
    assert client.post(hook, json=am_payload("resolved", fp="fp-b"), headers=auth("alertmanager")).json()["results"][0]["outcome"] == "duplicate"
    row = client.get(f"/incidents/{a['incident_id']}", headers=auth("victor")).json()["incident"]
    assert row["alert_status"] == "resolved" and row["alerts_firing"] == 0
    kinds = [e["kind"] for e in client.get(f"/incidents/{a['incident_id']}/audit", headers=auth("victor")).json()["events"]]
    assert kinds.count("alert.resolved") == 2
    alerts = client.get(f"/incidents/{a['incident_id']}", headers=auth("victor")).json()["alerts"]
    assert [(x["fingerprint"], x["status"]) for x in alerts] == [("fp-a", "resolved"), ("fp-b", "resolved")]
    again = client.post(hook, json=am_payload(fp="fp-a"), headers=auth("alertmanager")).json()["results"][0]
    assert again["outcome"] == "new_incident", "a group whose alerts all resolved does not absorb a new firing"


def test_pagerduty_signature_and_events(client):
    body = json.dumps(pd_event()).encode()
    headers = {**auth("alertmanager"), "Content-Type": "application/json"}
    bad = client.post("/webhooks/pagerduty", content=body, headers={**headers, "X-PagerDuty-Signature": "v1=" + "0" * 64})
    assert bad.status_code == 401 and "signature" in bad.json()["detail"].lower()
    assert client.post("/webhooks/pagerduty", content=body, headers=headers).status_code == 401
    rotated = f"v1={'a' * 64}, {sign_pagerduty(PD_SECRET, body)}"
    ok = client.post("/webhooks/pagerduty", content=body, headers={**headers, "X-PagerDuty-Signature": rotated})
    assert ok.status_code == 200, ok.text
    assert ok.json()["results"][0]["outcome"] == "new_incident"
    ack = json.dumps(pd_event("incident.acknowledged")).encode()
    assert client.post("/webhooks/pagerduty", content=ack, headers={**headers, "X-PagerDuty-Signature": sign_pagerduty(PD_SECRET, ack)}).json()["received"] == 0
    res = json.dumps(pd_event("incident.resolved")).encode()
    out = client.post("/webhooks/pagerduty", content=res, headers={**headers, "X-PagerDuty-Signature": sign_pagerduty(PD_SECRET, res)}).json()
    assert out["results"][0]["outcome"] == "resolved"


def test_generic_webhook_is_strict(client):
    good = {"version": "1", "alerts": [{"name": "DiskFull", "service": "shop-db", "severity": "critical", "fingerprint": "g1"}]}
    assert client.post("/webhooks/generic", json=good, headers=auth("alertmanager")).json()["results"][0]["outcome"] == "new_incident"
    extra = {"version": "1", "alerts": [{"name": "DiskFull", "colour": "red"}]}
    bad = client.post("/webhooks/generic", json=extra, headers=auth("alertmanager"))
    assert bad.status_code == 422 and bad.json()["detail"]["problems"][0]["field"] == "alerts.0.colour"


@pytest.mark.parametrize(
    "content, ctype, status, words",
    [
        (b"{not json", "application/json", 400, "malformed JSON at line 1"),
        (b"", "application/json", 400, "empty body"),
        (b"[1, 2]", "application/json", 422, "must be a JSON object"),
        (b'{"version": "3", "status": "firing", "alerts": []}', "application/json", 422, "unsupported Alertmanager payload version '3'"),
        (b'{"version": "4", "status": "firing", "alerts": []}', "application/json", 422, "invalid Alertmanager payload"),
        (b"version=4", "application/x-www-form-urlencoded", 415, "content type must be application/json"),
        (b"x" * 2_000_000, "application/json", 413, "over the limit"),
    ],
)
def test_bad_input_is_a_clear_4xx_and_stores_nothing(client, content, ctype, status, words):
    response = client.post("/webhooks/alertmanager", content=content, headers={**auth("alertmanager"), "Content-Type": ctype})
    assert response.status_code == status
    assert words in json.dumps(response.json()["detail"])
    assert client.get("/incidents", headers=auth("admin")).json() == []
    assert client.get("/healthz").json()["incidents"] == {"alerts": 0}


def test_full_queue_answers_503_with_retry_after_and_stores_nothing(tmp_path):
    with make_client(tmp_path, max_queue=1, workers=1, poll_s=30) as client:
        client.app.state.workers.stop(timeout=0)  # nobody takes work: the queue stays full
        assert client.post("/webhooks/alertmanager", json=am_payload(fp="q1"), headers=auth("alertmanager")).status_code == 200
        payload = am_payload(fp="q2", service="cart")
        payload["alerts"].append({**payload["alerts"][0], "fingerprint": "q3", "labels": {"alertname": "X", "service": "y"}})
        full = client.post("/webhooks/alertmanager", json=payload, headers=auth("alertmanager"))
        assert full.status_code == 503 and full.headers["Retry-After"] == "5"
        assert "queue is full" in full.json()["detail"]
        assert client.get("/healthz").json()["incidents"]["alerts"] == 1, "a refused delivery stores none of its alerts"
        grouped = client.post("/webhooks/alertmanager", json=am_payload(fp="q4"), headers=auth("alertmanager"))
        assert grouped.json()["results"][0]["outcome"] == "grouped", "alerts joining an existing incident are still taken"


def test_approval_needs_approver_records_identity_and_is_single_use(client):
    incident = client.post("/webhooks/alertmanager", json=am_payload(), headers=auth("alertmanager")).json()["results"][0]["incident_id"]
    pending = wait_state(client, incident)["pending"]
    assert pending["gate_id"].startswith("g-") and len(pending["params_hash"]) == 64 and pending["action"]
    url = f"/incidents/{incident}/approvals/{pending['step_index']}"
    body = decision_body(pending, comment="looks right")
    assert client.post(url, json=body, headers=auth("victor")).status_code == 403
    assert client.post(f"/incidents/{incident}/approvals/99", json=body, headers=auth("alice")).status_code == 409
    assert client.post(url, json={**body, "decision": "maybe"}, headers=auth("alice")).status_code == 422
    assert client.post(url, json={"decision": "approve"}, headers=auth("alice")).status_code == 422, "a decision names its gate"
    assert client.post(url, json={**body, "params": {"service": "shop-db"}}, headers=auth("alice")).status_code == 422
    other_gate = client.post(url, json={**body, "gate_id": "g-" + "1" * 32}, headers=auth("alice"))
    assert other_gate.status_code == 409 and "nothing was run" in other_gate.json()["detail"]
    assert client.post(url, json={**body, "params_hash": "f" * 64}, headers=auth("alice")).status_code == 409
    assert client.post(url, json={**body, "action": "circuit_break"}, headers=auth("alice")).status_code == 409
    accepted = client.post(url, json=body, headers=auth("alice"))
    assert accepted.status_code == 202 and accepted.json()["approver"] == "alice" and accepted.json()["gate_id"] == pending["gate_id"]
    assert client.post(url, json=body, headers=auth("admin")).status_code == 409, "a double click decides nothing twice"
    detail = wait_state(client, incident, states=("done", "failed"))
    assert detail["incident"]["status"] in ("resolved", "escalated")
    assert detail["approvals"][0]["approver"] == "alice" and detail["approvals"][0]["comment"] == "looks right"
    audit = client.get(f"/incidents/{incident}/audit", headers=auth("victor")).json()
    assert audit["verify"]["ok"]
    decided = [e for e in audit["events"] if e["kind"] == "approval.decided"]
    assert decided[0]["actor"] == "human:alice" and decided[0]["data"]["gate"]["gate_id"] == pending["gate_id"]
    executed = [e["data"]["result"] for e in audit["events"] if e["kind"] == "action.executed"]
    assert any(r["destructive"] and r["approved_by"] == "alice" for r in executed)


def test_a_stale_server_view_cannot_approve_the_next_step(client):
    """Finding 2: another actor moved the incident from step 0 to step 1; the server still showed step 0."""
    incident = client.post("/webhooks/alertmanager", json=am_payload(service="shop-db"), headers=auth("alertmanager")).json()["results"][0]["incident_id"]
    first = wait_state(client, incident)["pending"]
    assert first["workflow"] == "critical-database-incident"
    runner = client.app.state.runtime.runner
    runner.resume(incident, bind(first, {"decision": "approve", "approver": "cli:other", "role": "dba"}))  # e.g. `lumos resume` on the same home
    moved = runner.outcome(incident)
    assert moved.pending["step_index"] == first["step_index"] + 1
    ran = [r.step_index for r in moved.results]
    stale = client.post(f"/incidents/{incident}/approvals/{first['step_index']}", json=decision_body(first), headers=auth("alice"))
    assert stale.status_code == 409, stale.text
    detail = client.get(f"/incidents/{incident}", headers=auth("victor")).json()
    assert detail["pending"]["gate_id"] == moved.pending["gate_id"], "the server's copy of the pending gate was refreshed"
    assert [r["step_index"] for r in detail["results"]] == ran, "the stale approval ran nothing"
    also_stale = client.post(f"/incidents/{incident}/approvals/{moved.pending['step_index']}", json=decision_body(first), headers=auth("alice"))
    assert also_stale.status_code == 409 and "gate_id" in also_stale.json()["detail"]


def test_events_stream_audit_records_and_status(client):
    incident = client.post("/webhooks/alertmanager", json=am_payload(), headers=auth("alertmanager")).json()["results"][0]["incident_id"]
    wait_state(client, incident)
    seen: list[str] = []
    with client.stream("GET", f"/incidents/{incident}/events", headers=auth("victor")) as response:
        assert response.headers["content-type"].startswith("text/event-stream")
        for line in response.iter_lines():
            if line.startswith("event: "):
                seen.append(line[7:])
            if "status" in seen and seen.count("audit") >= 3:
                break
    assert seen.count("audit") >= 3 and "status" in seen


def test_openapi_documents_every_endpoint_and_body(client):
    spec = client.get("/openapi.json", headers=auth("victor")).json()
    paths = spec["paths"]
    for path in ("/webhooks/alertmanager", "/webhooks/pagerduty", "/webhooks/generic", "/incidents", "/incidents/{incident_id}",
                 "/incidents/{incident_id}/audit", "/incidents/{incident_id}/approvals/{step}", "/incidents/{incident_id}/events", "/healthz"):
        assert path in paths, path
    for name in ("AlertmanagerPayload", "PagerDutyWebhook", "GenericPayload", "ApprovalRequest"):
        assert name in spec["components"]["schemas"]
    assert "HTTPBearer" in spec["components"]["securitySchemes"]


def test_console_page_is_served_with_a_strict_csp(client):
    page = client.get("/")
    assert page.status_code == 200 and "LUMOS" in page.text
    assert "default-src 'self'" in page.headers["content-security-policy"]
    assert client.get("/static/console.js").status_code == 200


def test_undecided_gate_times_out_as_a_rejection(tmp_path, monkeypatch):
    """The expiry sweep (normally run by the heartbeat) is driven here: no lease or sleep races."""
    monkeypatch.setenv("LUMOS_APPROVAL_TIMEOUT_S", "0.5")
    with make_client(tmp_path) as client:
        incident = client.post("/webhooks/alertmanager", json=am_payload(), headers=auth("alertmanager")).json()["results"][0]["incident_id"]
        assert wait_state(client, incident)["incident"]["run_state"] == "waiting"
        workers = client.app.state.workers
        wait_until(lambda: incident in workers.expire_gates(), 30, 0.05, "the gate to pass its deadline")
        detail = wait_state(client, incident, states=("done", "failed"))
    assert detail["incident"]["status"] == "escalated"
    assert detail["approvals"][0]["decision"] == "reject" and detail["approvals"][0]["approver"] == "lumos:timeout"
    assert not any(r["destructive"] for r in detail["results"])


def test_incidents_of_a_dead_local_process_are_requeued_at_start(tmp_path):
    import os

    from lumos.app.server.db import SqliteDatabase
    from lumos.app.server.store import IncidentStore
    from lumos.tools.domain import Alert

    store = IncidentStore(SqliteDatabase(tmp_path / "home" / "serve.sqlite"))
    alert = Alert(fingerprint="o1", name="Orphan", labels={"alertname": "Orphan"}, starts_at="2025-01-01T00:00:00Z")
    store.intake([alert], group_by=["alertname"], window_s=60, max_queue=10, sources={"kind": "none"})
    dead = f"{os.uname().nodename}:999999999"
    claim = store.claim(dead, lease_s=3600)
    store.db.close()
    with make_client(tmp_path, data_case=None) as client:
        detail = wait_state(client, claim.incident_id)
    assert detail["incident"]["runs"] == 2 and detail["incident"]["ran_by"] != dead
