"""A real Prometheus alert, routed by a real Alertmanager to `lumos serve`, becomes an incident that runs
to its approval gate; when the alert clears, the resolution closes the incident's alert group."""

from __future__ import annotations

import httpx
import pytest

from fixtures_serve.monitoring import ALERTMANAGER, PROMETHEUS, monitoring
from fixtures_serve.procs import DEMO_CASE, TOKENS, ServerProcess, auth, wait_until

pytestmark = pytest.mark.skipif(
    not (PROMETHEUS and ALERTMANAGER),
    reason="Debian's prometheus and prometheus-alertmanager are not installed (apt-get install prometheus prometheus-alertmanager)",
)


def test_prometheus_alert_through_alertmanager_opens_and_resolves_incident(tmp_path):
    server = ServerProcess(tmp_path / "home", env={"LUMOS_DATA_CASE": str(DEMO_CASE)})
    try:
        server.start()
        webhook = server.url + "/webhooks/alertmanager"
        with monitoring(tmp_path / "mon", webhook, TOKENS["alertmanager"]) as mon:
            mon.gauge.value = 0.31

            def incident_at_gate():
                rows = httpx.get(server.url + "/incidents", headers=auth("victor"), timeout=5).json()
                return rows[0] if rows and rows[0]["run_state"] == "waiting" else None

            row = wait_until(incident_at_gate, 60, 0.3, "the alert to become an incident at its approval gate")
            assert row["source"] == "alertmanager" and row["service"] == "frontend"
            assert row["pending"]["destructive"] is True
            detail = httpx.get(f"{server.url}/incidents/{row['incident_id']}", headers=auth("victor"), timeout=5).json()
            assert detail["hypotheses"] and detail["plan"], "diagnosed from the configured case's data"

            mon.gauge.value = 0.0

            def resolved():
                r = httpx.get(f"{server.url}/incidents/{row['incident_id']}", headers=auth("victor"), timeout=5).json()
                return r if r["incident"]["alert_status"] == "resolved" else None

            detail = wait_until(resolved, 60, 0.3, "the resolved notification to close the alert group")
            assert detail["incident"]["alerts_firing"] == 0
            assert "alert.resolved" in [t["kind"] for t in detail["timeline"]]
            active = httpx.get(mon.alertmanager + "/api/v2/alerts?active=true", timeout=5).json()
            assert active == [], "Alertmanager has no active alert left"
            rows = httpx.get(server.url + "/incidents", headers=auth("victor"), timeout=5).json()
            assert len(rows) == 1, "repeated notifications of the same alert were deduplicated into one incident"
    finally:
        server.stop()
