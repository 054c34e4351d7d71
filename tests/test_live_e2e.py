"""The live path end to end, with real servers on loopback: Prometheus scrapes the test's exporter and
fires an alert, a real Alertmanager delivers it to `lumos serve --config`, spans arrive from the
OpenTelemetry SDK over OTLP/HTTP, logs come from an OpenSearch-compatible server (osmem-server), a
deploy arrives on the changes webhook. The planted faulty service must rank first with the planted
evidence; the gated rollback is a dry run; `lumos cases record` + `lumos eval` replay the same ranking."""

from __future__ import annotations

import json
import subprocess
import sys
import time
from datetime import datetime, timedelta, timezone

import httpx
import pytest

from fixtures_live.shop import FAULTY, PLANTED_ERROR, RULES, ShopExporter, log_documents, send_spans
from fixtures_serve.monitoring import ALERTMANAGER, PROMETHEUS, monitoring
from fixtures_serve.procs import TOKENS, ServerProcess, auth, decision_body, free_port, wait_until

osmem = pytest.importorskip("osmem_server")
pytest.importorskip("opentelemetry.exporter.otlp.proto.http")
pytestmark = pytest.mark.skipif(not (PROMETHEUS and ALERTMANAGER),
                                reason="Debian's prometheus and prometheus-alertmanager are not installed")
INDEX = "logs-shop"
LUMOS = [sys.executable, "-c", "from lumos.app.cli import main; main()"]


def _config(prometheus: str, opensearch: str) -> str:
    return f"""
sources:
  window: {{baseline_s: 90, after_s: 60}}
  metrics: {{type: prometheus, url: "{prometheus}", rate_window: 5s, step_s: 1}}
  logs: {{type: opensearch, url: "{opensearch}", index: {INDEX}, max_lines: 5000}}
  traces: {{type: otlp}}
  topology: {{type: spans}}
  changes: {{webhook: true}}
actions:
  default: {{backend: simulated, dry_run: true}}
  per_action: {{rollback_deploy: {{backend: kubernetes, dry_run: true}}}}
  kubernetes: {{namespace: shop}}
"""


def _create_index(search) -> None:
    from elasticsearch import Elasticsearch

    from lumos.tools.logs.elastic import PlainJsonNode

    client = Elasticsearch(search.url, node_class=PlainJsonNode)
    client.indices.create(index=INDEX, mappings={"properties": {
        "@timestamp": {"type": "date"}, "service": {"properties": {"name": {"type": "keyword"}}},
        "log": {"properties": {"level": {"type": "keyword"}}}, "host": {"properties": {"name": {"type": "keyword"}}},
        "message": {"type": "text"}}})
    return client


def test_alertmanager_alert_is_diagnosed_from_live_sources_and_recorded_as_a_case(tmp_path):
    from elasticsearch import helpers

    search = osmem.OsmemServer.start(freeze=False)
    port = free_port()
    server = None
    try:
        client = _create_index(search)
        with ShopExporter() as shop, monitoring(tmp_path / "mon", f"http://127.0.0.1:{port}/webhooks/alertmanager",
                                                TOKENS["alertmanager"], rules=RULES, target=shop.target) as mon:
            config = tmp_path / "lumos.yaml"
            config.write_text(_config(mon.prometheus, search.url))
            server = ServerProcess(tmp_path / "home", port=port, config=config, env={"LUMOS_ONSET_LOOKBACK_S": "10"}).start()
            now = datetime.now(timezone.utc)
            assert send_spans(server.url + "/v1/traces", TOKENS["alertmanager"], now - timedelta(seconds=100), now, now + timedelta(days=1)) > 0
            helpers.bulk(client, log_documents(INDEX, now - timedelta(seconds=100), now, now + timedelta(days=1)), refresh=True)
            deploy = {"service": FAULTY, "kind": "deploy", "version": "2.4.0", "previous_version": "2.3.9",
                      "summary": "rollout checkout 2.4.0", "ts": (now + timedelta(seconds=5)).isoformat()}
            r = httpx.post(server.url + "/webhooks/changes", json=deploy, headers=auth("alertmanager"), timeout=10)
            assert r.status_code == 200 and r.json()["stored"] == 1
            time.sleep(8)  # a healthy baseline in Prometheus
            fault_at = datetime.now(timezone.utc)
            shop.fault = True
            send_spans(server.url + "/v1/traces", TOKENS["alertmanager"], fault_at, fault_at + timedelta(seconds=40), fault_at)
            helpers.bulk(client, log_documents(INDEX, fault_at, fault_at + timedelta(seconds=60), fault_at, every_s=0.5), refresh=True)

            def at_gate():
                rows = httpx.get(server.url + "/incidents", headers=auth("victor"), timeout=5).json()
                return rows[0] if rows and rows[0]["run_state"] in ("waiting", "done", "failed") else None

            row = wait_until(at_gate, 120, 0.5, "Alertmanager's alert to be investigated")
            detail = httpx.get(f"{server.url}/incidents/{row['incident_id']}", headers=auth("victor"), timeout=5).json()
            ranking = [h["service"] for h in detail["hypotheses"]]
            assert row["run_state"] == "waiting", (row, detail.get("timeline"))
            assert ranking[0] == FAULTY, detail["hypotheses"][:3]
            evidence = " | ".join(e["summary"] for e in detail["hypotheses"][0]["evidence"])
            assert "2.4.0" in evidence, evidence  # the deploy planted on the changes webhook
            audit = httpx.get(f"{server.url}/incidents/{row['incident_id']}/audit", headers=auth("victor"), timeout=5).json()
            collected = next(r for r in audit["events"] if r["kind"] == "sources.collected")["data"]["notes"]
            text = "\n".join(collected)
            assert "failed" not in text, text
            for source in ("metrics", "logs", "traces", "changes", "topology"):
                assert f"source {source} (" in text, text
            folder = tmp_path / "home" / "live" / row["incident_id"]
            logs = (folder / "logs.jsonl").read_text()
            assert PLANTED_ERROR in logs
            metrics = (folder / "metrics.csv").read_text()
            assert ",checkout,,error_rate," in metrics and ",payment,,request_rate," in metrics
            assert '"service":"checkout"' in (folder / "spans.jsonl").read_text()

            step = row["pending"]["step_index"]
            r = httpx.post(f"{server.url}/incidents/{row['incident_id']}/approvals/{step}", json=decision_body(row["pending"]),
                           headers=auth("alice"), timeout=10)
            assert r.status_code == 202, r.text

            def acted():
                d = httpx.get(f"{server.url}/incidents/{row['incident_id']}", headers=auth("victor"), timeout=5).json()
                return [r for r in d["results"] if r["action"] == "rollback_deploy"]

            (rollback,) = wait_until(acted, 60, 0.3, "the approved rollback to run")
            assert rollback["status"] == "dry_run" and rollback["approved_by"] == "alice"
            assert rollback["output"].startswith("would run on kubernetes: GET /apis/apps/v1/namespaces/shop/deployments/checkout")
        server.stop()
        case = tmp_path / "case"
        done = subprocess.run([*LUMOS, "cases", "record", "--incident", row["incident_id"], "--out", str(case), "--home", str(tmp_path / "home")],
                              capture_output=True, text=True, timeout=120)
        assert done.returncode == 0, done.stderr
        assert "# root_cause:" in (case / "truth.yaml").read_text()
        out = tmp_path / "eval"
        done = subprocess.run([*LUMOS, "eval", str(case), "--out", str(out)], capture_output=True, text=True, timeout=300,
                              env={**__import__("os").environ, "LUMOS_ONSET_LOOKBACK_S": "10"})
        assert done.returncode == 0, done.stdout + done.stderr
        replayed = json.loads((out / "results.json").read_text())["cases"][0]
        assert replayed["status"] == "ok" and replayed["ranking"] == ranking[: len(replayed["ranking"])]
    finally:
        if server is not None:
            server.stop()
        search.close()
