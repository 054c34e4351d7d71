"""Fleet mode on a real PostgreSQL 15 (a private initdb cluster on a loopback port)."""

from __future__ import annotations

import threading
import time
from collections import Counter

import httpx
import pytest

from lumos.graph.audit_keys import key_from_text
from fixtures_serve.procs import (
    DEMO_CASE, ServerProcess, auth, decision_body, postgres_missing, private_postgres, reset_postgres, wait_until,
)

KEY_TEXT = "fleet-audit-key-for-tests-0123456789abcdef"
KEY = key_from_text(KEY_TEXT, "LUMOS_AUDIT_KEY")

pytestmark = pytest.mark.skipif(postgres_missing() is not None, reason=postgres_missing() or "")


@pytest.fixture(scope="module")
def pg_cluster():
    with private_postgres() as url:
        yield url


@pytest.fixture
def pg_url(pg_cluster):
    reset_postgres(pg_cluster)
    return pg_cluster


def test_postgres_audit_trail_has_the_sqlite_chain_rules(pg_url, tmp_path):
    import psycopg

    from lumos.graph.audit import AuditTrail
    from lumos.graph.audit_postgres import PostgresAuditTrail

    trail = PostgresAuditTrail.connect(pg_url, KEY)
    try:
        first = trail.append("inc-1", "incident.opened", {"n": 1.5, "s": "é"}, actor="alert:test", dedupe_key="open")
        assert trail.append("inc-1", "incident.opened", {"n": 2}, dedupe_key="open") is None
        second = trail.append("inc-1", "triage.done", {"list": [1, 2]})
        assert second.prev_hash == first.hash and second.seq == 2
        assert trail.authentic(first) and first.key_id == KEY.key_id
        sqlite_trail = AuditTrail(tmp_path / "a.sqlite", KEY)
        assert sqlite_trail.authentic(first), "the same record MAC in either store"
        assert sqlite_trail.append("x", "k", {"n": 1.5}).prev_hash == first.prev_hash
        assert trail.verify("inc-1").ok and trail.exists("inc-1") and trail.incidents() == ["inc-1"]
        trail.append("inc-3", "a", {})
        anchor = trail.anchor()
        assert anchor.incidents == 2 and not trail.check_anchor(anchor)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("UPDATE audit_events SET data='{\"n\":9}' WHERE incident_id='inc-1' AND seq=1")
        assert any("edited" in p for p in trail.verify("inc-1").problems)
        trail.append("inc-2", "a", {})
        trail.append("inc-2", "b", {})
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DELETE FROM audit_events WHERE incident_id='inc-2' AND seq=2")
        assert any("removed" in p for p in trail.verify("inc-2").problems)
        with psycopg.connect(pg_url, autocommit=True) as conn:
            conn.execute("DELETE FROM audit_events WHERE incident_id='inc-3'")
            conn.execute("DELETE FROM audit_heads WHERE incident_id='inc-3'")
        assert any("incident deleted" in p for p in trail.verify("inc-3").problems)
        assert any("inc-3: anchored with 1 records, now has none (deleted)" in p for p in trail.check_anchor(anchor))
    finally:
        trail.close()


def test_concurrent_appends_from_many_threads_keep_one_chain(pg_url):
    from lumos.graph.audit_postgres import PostgresAuditTrail

    trail = PostgresAuditTrail.connect(pg_url, KEY, max_size=8)
    try:
        threads = [threading.Thread(target=lambda i=i: [trail.append("inc-c", "k", {"t": i, "j": j}) for j in range(10)]) for i in range(8)]
        for t in threads:
            t.start()
        for t in threads:
            t.join()
        result = trail.verify("inc-c")
        assert result.ok and result.records == 80
    finally:
        trail.close()


def test_claims_never_hand_one_incident_to_two_workers(pg_url):
    from lumos.app.server.db import PostgresDatabase
    from lumos.app.server.store import IncidentStore
    from lumos.tools.domain import Alert

    stores = [IncidentStore(PostgresDatabase(pg_url)) for _ in range(2)]
    alerts = [Alert(fingerprint=f"f{i}", name=f"A{i}", labels={"alertname": f"A{i}"}, starts_at="2025-01-01T00:00:00Z") for i in range(40)]
    outcomes = stores[0].intake(alerts, group_by=["alertname"], window_s=600, max_queue=100, sources={"kind": "none"})
    assert Counter(o.outcome for o in outcomes) == {"new_incident": 40}
    claimed: list[str] = []
    lock = threading.Lock()

    def worker(store: IncidentStore, name: str) -> None:
        while (claim := store.claim(name, 60)) is not None:
            with lock:
                claimed.append(claim.incident_id)

    threads = [threading.Thread(target=worker, args=(stores[i % 2], f"node{i}")) for i in range(6)]
    for t in threads:
        t.start()
    for t in threads:
        t.join()
    assert len(claimed) == 40 and len(set(claimed)) == 40
    for store in stores:
        store.db.close()


def test_two_servers_share_incidents_without_running_any_twice(pg_url, tmp_path):
    env = {"LUMOS_DATABASE_URL": pg_url, "LUMOS_DATA_CASE": str(DEMO_CASE), "LUMOS_WORKERS": "2", "LUMOS_AUDIT_KEY": KEY_TEXT}
    servers = [ServerProcess(tmp_path / "home", env={**env, "LUMOS_NODE_ID": f"node-{i}"}) for i in range(2)]
    try:
        for server in servers:
            server.start()
        incidents = []
        for i in range(12):
            payload = {"version": "1", "alerts": [{"name": f"Alert{i}", "service": "frontend", "fingerprint": f"fp{i}"}]}
            r = httpx.post(servers[i % 2].url + "/webhooks/generic", json=payload, headers=auth("alertmanager"), timeout=10)
            assert r.status_code == 200, r.text
            incidents.append(r.json()["results"][0]["incident_id"])
        dup = httpx.post(servers[1].url + "/webhooks/generic", headers=auth("alertmanager"), timeout=10,
                         json={"version": "1", "alerts": [{"name": "Alert0", "service": "frontend", "fingerprint": "fp0"}]})
        assert dup.json()["results"][0] == {"fingerprint": "fp0", "outcome": "duplicate", "incident_id": incidents[0]}

        def all_waiting():
            rows = httpx.get(servers[0].url + "/incidents?limit=50", headers=auth("victor"), timeout=10).json()
            return rows if len(rows) == 12 and all(r["run_state"] == "waiting" for r in rows) else None

        rows = wait_until(all_waiting, 120, 0.3, "every incident at its gate")
        assert all(r["runs"] == 1 for r in rows), [(r["incident_id"], r["runs"]) for r in rows]
        assert {r["ran_by"] for r in rows} == {"node-0", "node-1"}, "both servers took incidents from the shared queue"
        # approve on the other server than the one that ran the incident
        target = rows[0]
        step = target["pending"]["step_index"]
        r = httpx.post(f"{servers[1].url}/incidents/{target['incident_id']}/approvals/{step}", json=decision_body(target["pending"], "reject", "no"),
                       headers=auth("alice"), timeout=10)
        assert r.status_code == 202
        wait_until(lambda: httpx.get(f"{servers[0].url}/incidents/{target['incident_id']}", headers=auth("victor"), timeout=10)
                   .json()["incident"]["run_state"] == "done", 60, what="the rejected incident to finish")
        for incident in incidents:
            audit = httpx.get(f"{servers[i % 2].url}/incidents/{incident}/audit", headers=auth("victor"), timeout=10).json()
            kinds = Counter(e["kind"] for e in audit["events"])
            assert audit["verify"]["ok"] and kinds["incident.opened"] == 1 and kinds["triage.done"] == 1
        health = [httpx.get(s.url + "/healthz", timeout=5).json() for s in servers]
        assert all(h["fleet"] for h in health)
    finally:
        for server in servers:
            server.stop()


def test_fleet_failover_after_kill_9_resumes_on_the_other_server(pg_url, tmp_path):
    from lumos.graph.audit_postgres import PostgresAuditTrail

    env = {"LUMOS_DATABASE_URL": pg_url, "LUMOS_DATA_CASE": str(DEMO_CASE), "LUMOS_WORKERS": "2", "LUMOS_AUDIT_KEY": KEY_TEXT,
           "LUMOS_NODE_DELAY_S": "0.2", "LUMOS_LEASE_S": "1.5"}
    victim = ServerProcess(tmp_path / "home", env={**env, "LUMOS_NODE_ID": "victim"})
    survivor = ServerProcess(tmp_path / "home", env={**env, "LUMOS_NODE_ID": "survivor", "LUMOS_POLL_S": "2"})
    try:
        victim.start()
        survivor.start()  # polls rarely: the victim's workers take the new incidents first
        ids = []
        for i in range(3):
            body = {"version": "1", "alerts": [{"name": f"Fail{i}", "service": "frontend", "fingerprint": f"fo{i}"}]}
            ids.append(httpx.post(victim.url + "/webhooks/generic", json=body, headers=auth("alertmanager"), timeout=10)
                       .json()["results"][0]["incident_id"])

        def victim_mid_graph():
            rows = httpx.get(victim.url + "/incidents", headers=auth("victor"), timeout=10).json()
            return any(r["run_state"] == "running" and r["claimed_by"] == "victim" and r["status"] == "diagnosing" for r in rows)

        wait_until(victim_mid_graph, 30, 0.02, "the victim to be running an incident")
        victim.kill9()

        def all_waiting():
            rows = httpx.get(survivor.url + "/incidents", headers=auth("victor"), timeout=10).json()
            return rows if len(rows) == 3 and all(r["run_state"] == "waiting" for r in rows) else None

        rows = wait_until(all_waiting, 90, 0.3, "the survivor to take over and finish diagnosis")
        assert any(r["ran_by"] == "survivor" and r["runs"] >= 2 for r in rows), rows
    finally:
        victim.stop()
        survivor.stop()
    trail = PostgresAuditTrail.connect(pg_url, KEY)
    try:
        for incident in ids:
            assert trail.verify(incident).ok
            kinds = Counter(e.kind for e in trail.events(incident))
            assert kinds["incident.opened"] == 1 and kinds["diagnosis.ranked"] == 1 and kinds["approval.requested"] == 1
    finally:
        trail.close()


def test_live_span_and_change_stores_on_postgres(pg_url, tmp_path):
    """The OTLP span store and the change store keep their rules in fleet mode: dedup, window reads, edges, retention."""
    from datetime import datetime, timedelta, timezone

    from lumos.tools.domain import Change, Span, TimeWindow
    from lumos.tools.live.changestore import ChangeStore
    from lumos.tools.live.spanstore import SpanStore
    from lumos.tools.sqldb import PostgresDatabase

    db = PostgresDatabase(pg_url)
    try:
        now = datetime.now(timezone.utc).replace(microsecond=0)
        store = SpanStore(db, retention_s=3600, max_spans=1000)
        spans = [Span(trace_id=f"{i:032x}", span_id=f"{2 * i + 1:016x}", service="front", start=now - timedelta(seconds=i), duration_ms=5)
                 for i in range(1500)]
        spans += [Span(trace_id=f"{i:032x}", span_id=f"{2 * i + 2:016x}", parent_span_id=f"{2 * i + 1:016x}", service="cart",
                       start=now - timedelta(seconds=i), duration_ms=2, status="ERROR") for i in range(10)]
        store.add(spans)
        store.add(spans[:10])  # a repeated export is stored once
        window = TimeWindow(start=now - timedelta(seconds=60), end=now + timedelta(seconds=1))
        names, edges = store.edges(window)
        assert names == ["cart", "front"] and edges == [("front", "cart")]
        got, capped = store.window(window, limit=50)
        assert len(got) == 50 and capped and got[0].start == now - timedelta(seconds=60)
        store.prune()
        assert store.count() <= 1000, "the oldest spans past max_spans are deleted"
        changes = ChangeStore(db)
        change = Change(ts=now - timedelta(minutes=5), service="cart", kind="deploy", version="2.0")
        assert changes.add([(None, change), (None, change), ("argocd:cart:abc", change)]) == 2
        assert [c.version for c in changes.window(TimeWindow(start=now - timedelta(hours=1), end=now))] == ["2.0", "2.0"]
    finally:
        db.close()
