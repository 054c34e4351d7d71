"""Review finding 7, one regression test each: client input never causes a 5xx, operator mistakes are one line."""

from __future__ import annotations

import json
import os
import shutil
import subprocess
import sys
import time

import pytest
from fastapi.testclient import TestClient

from lumos.app.server.app import create_app
from lumos.app.server.config import ServerSettings, parse_tokens
from lumos.app.server.payloads import sign_pagerduty
from lumos.tools.errors import InputError
from fixtures_serve.procs import DEMO_CASE, TOKEN_ENV, auth, free_port
from test_serve_api import PD_SECRET, am_payload, pd_event, wait_state


@pytest.fixture(scope="module")
def client(tmp_path_factory):
    config = ServerSettings(home=tmp_path_factory.mktemp("traps") / "home", api_tokens=parse_tokens(TOKEN_ENV), data_case=DEMO_CASE,
                            poll_s=0.05, pagerduty_secret=PD_SECRET)
    with TestClient(create_app(config)) as c:
        yield c


def lumos(*args: str, env: dict[str, str] | None = None, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-c", "from lumos.app.cli import main; main()", *args], capture_output=True, text=True,
                          env={**os.environ, "COLUMNS": "200", **(env or {})}, timeout=timeout)


def test_a_non_ascii_pagerduty_signature_is_a_401(client):
    body = json.dumps(pd_event()).encode()
    signature = "v1=é" + sign_pagerduty(PD_SECRET, body)[3:]
    response = client.post("/webhooks/pagerduty", content=body, headers={
        **auth("alertmanager"), "Content-Type": "application/json", "X-PagerDuty-Signature": signature.encode()})  # raw UTF-8 bytes
    assert response.status_code == 401 and "signature" in response.json()["detail"].lower()


@pytest.mark.parametrize("body", [b"[" * 100_000, b'{"a":' * 100_000, b'{"version": "4", "alerts": ' + b"[" * 50_000])
def test_deeply_nested_json_is_a_400(client, body):
    response = client.post("/webhooks/alertmanager", content=body, headers={**auth("alertmanager"), "Content-Type": "application/json"})
    assert response.status_code == 400 and "nested too deeply" in response.json()["detail"]


def test_an_unsigned_delivery_cannot_touch_a_pagerduty_alert(client):
    body = json.dumps(pd_event(incident="PTRAP01")).encode()
    signed = client.post("/webhooks/pagerduty", content=body, headers={
        **auth("alertmanager"), "Content-Type": "application/json", "X-PagerDuty-Signature": sign_pagerduty(PD_SECRET, body)})
    incident = signed.json()["results"][0]["incident_id"]
    spoof = {"version": "1", "alerts": [{"name": "Checkout down", "status": "resolved", "fingerprint": "pd-PTRAP01"}]}
    refused = client.post("/webhooks/generic", json=spoof, headers=auth("alertmanager"))
    assert refused.status_code == 422 and refused.json()["detail"]["problems"][0]["field"] == "alerts.0.fingerprint"
    am = am_payload("resolved", fp="pd-PTRAP01")
    assert client.post("/webhooks/alertmanager", json=am, headers=auth("alertmanager")).status_code == 422
    row = client.get(f"/incidents/{incident}", headers=auth("victor")).json()["incident"]
    assert row["alert_status"] == "firing" and row["alerts_firing"] == 1


def test_two_entries_with_the_same_token_are_refused():
    with pytest.raises(InputError, match="entry 2 \\(bob\\) has the same token as entry 1 \\(ann\\)"):
        parse_tokens("ann:viewer:same-token-0123456789,bob:admin:same-token-0123456789")
    out = lumos("serve", "--port", str(free_port()), "--data-case", str(DEMO_CASE), env={"LUMOS_API_TOKENS": "ann:viewer:same-token-0123456789,bob:admin:same-token-0123456789"})
    assert out.returncode == 2 and "same token" in out.stderr and "Traceback" not in out.stderr


def test_unreachable_postgres_is_one_line_and_quick(tmp_path):
    url = f"postgresql://lumos@127.0.0.1:{free_port()}/lumos"
    no_key = lumos("serve", "--home", str(tmp_path), "--database-url", url, "--data-case", str(DEMO_CASE))
    assert no_key.returncode == 2 and "LUMOS_AUDIT_KEY" in no_key.stderr and "Traceback" not in no_key.stderr
    t0 = time.monotonic()
    out = lumos("serve", "--home", str(tmp_path), "--database-url", url, "--data-case", str(DEMO_CASE), env={"LUMOS_AUDIT_KEY": "k" * 40},
                timeout=60)
    assert out.returncode == 2 and f"cannot reach Postgres at 127.0.0.1:{url.rsplit(':', 1)[1].split('/')[0]}" in out.stderr
    lines = [line for line in out.stderr.strip().splitlines() if not line.startswith("warning:")]
    assert "Traceback" not in out.stderr and len(lines) == 1 and lines[0].startswith("error:"), out.stderr
    assert time.monotonic() - t0 < 30, "no 30 s pool timeout"


def test_markup_in_an_alert_name_is_printed_not_interpreted(tmp_path):
    case = tmp_path / "case"
    shutil.copytree(DEMO_CASE, case)
    text = (case / "alert.json").read_text().replace("HTTP5xxRatioHigh", "[/bold] [/] [red]x")  # an Alertmanager payload
    (case / "alert.json").write_text(text)
    out = lumos("run", "--case", str(case), "--yes", env={"LUMOS_HOME": str(tmp_path / "home")})
    assert out.returncode in (0, 1) and "Traceback" not in out.stderr, out.stderr
    assert "[/bold] [/] [red]x" in out.stdout


def test_without_a_data_source_incidents_escalate_with_the_reason(tmp_path):
    config = ServerSettings(home=tmp_path / "home", api_tokens=parse_tokens(TOKEN_ENV), poll_s=0.05)
    with TestClient(create_app(config)) as c:
        incident = c.post("/webhooks/alertmanager", json=am_payload(fp="nodata"), headers=auth("alertmanager")).json()["results"][0]["incident_id"]
        detail = wait_state(c, incident, states=("done", "failed"))
        events = c.get(f"/incidents/{incident}/audit", headers=auth("victor")).json()["events"]
    assert detail["incident"]["status"] == "escalated" and "no data source" in detail["escalation"]
    assert not detail["results"] and [e["data"]["kind"] for e in events if e["kind"] == "incident.escalated"] == ["no_data"]
