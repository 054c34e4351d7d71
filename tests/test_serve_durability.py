"""kill -9 the server while incidents are mid-graph: on restart they resume from their checkpoints,
no action runs twice, and every audit chain verifies."""

from __future__ import annotations

import sqlite3
from collections import Counter

import httpx

from lumos.graph.audit import AuditTrail
from fixtures_serve.procs import DEMO_CASE, ServerProcess, auth, decision_body, wait_until


def _get(server: ServerProcess, path: str) -> dict | list:
    return httpx.get(server.url + path, headers=auth("victor"), timeout=10).json()


def _post_alert(server: ServerProcess, i: int) -> str:
    body = {"version": "1", "alerts": [{"name": f"Errors{i}", "service": "frontend", "severity": "critical", "fingerprint": f"d{i}"}]}
    response = httpx.post(server.url + "/webhooks/generic", json=body, headers=auth("alertmanager"), timeout=10)
    assert response.status_code == 200, response.text
    return response.json()["results"][0]["incident_id"]


def test_kill_9_mid_graph_then_restart_resumes_without_repeating_actions(tmp_path):
    home = tmp_path / "home"
    env = {"LUMOS_DATA_CASE": str(DEMO_CASE), "LUMOS_WORKERS": "2", "LUMOS_NODE_DELAY_S": "0.15", "LUMOS_LEASE_S": "1.5"}
    server = ServerProcess(home, env=env)
    try:
        server.start()
        approved = [_post_alert(server, i) for i in range(2)]
        wait_until(lambda: all(_get(server, f"/incidents/{i}")["incident"]["run_state"] == "waiting" for i in approved), 60,
                   what="the first incidents to reach their gates")
        for incident in approved:
            pending = _get(server, f"/incidents/{incident}")["pending"]
            r = httpx.post(f"{server.url}/incidents/{incident}/approvals/{pending['step_index']}", json=decision_body(pending),
                           headers=auth("alice"), timeout=10)
            assert r.status_code == 202
        diagnosing = [_post_alert(server, i) for i in range(2, 5)]

        def mid_graph():
            rows = _get(server, "/incidents")
            return any(r["run_state"] == "running" for r in rows) and any(
                r["incident_id"] in approved and r["run_state"] == "running" for r in rows)

        wait_until(mid_graph, 30, 0.02, "an approved incident to be executing")
        server.kill9()
        before = {i: len(AuditTrail(home / "audit.sqlite").events(i)) for i in approved + diagnosing}

        server.start()
        def settled():
            rows = {r["incident_id"]: r for r in _get(server, "/incidents")}
            done = all(rows[i]["run_state"] == "done" for i in approved) and all(rows[i]["run_state"] == "waiting" for i in diagnosing)
            return rows if done else None

        rows = wait_until(settled, 90, 0.2, "every incident to resume and settle")
        resumed = [i for i in approved + diagnosing if rows[i]["runs"] >= 2 and rows[i]["runs"] > (1 if i in diagnosing else 2)]
        assert resumed, "at least one incident was taken over from the killed process"
    finally:
        server.stop()

    trail = AuditTrail(home / "audit.sqlite")
    ledger = sqlite3.connect(home / "simenv.sqlite")
    for incident in approved + diagnosing:
        events = trail.events(incident)
        assert trail.verify(incident).ok, incident
        assert len(events) >= before[incident]
        kinds = Counter(e.kind for e in events)
        assert kinds["incident.opened"] == 1 and kinds["diagnosis.ranked"] == 1
        executed = [e.data["result"]["idempotency_key"] for e in events if e.kind == "action.executed"]
        assert len(executed) == len(set(executed)), f"{incident}: an action was recorded twice"
        keys = [r[0] for r in ledger.execute("SELECT idempotency_key FROM sim_ledger WHERE world_id=?", (incident,))]
        assert sorted(keys) == sorted(executed), f"{incident}: ledger {keys} vs audit {executed}"
    for incident in approved:
        kinds = [e.kind for e in trail.events(incident)]
        assert "approval.decided" in kinds and kinds[-1] in ("incident.resolved", "incident.escalated")
    ledger.close()
