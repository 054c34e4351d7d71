"""Secrets in an alert never reach the audit trail, checkpoints, reports, API responses or notifications (finding 6)."""

from __future__ import annotations

import json
import time
from pathlib import Path

import pytest
from fastapi.testclient import TestClient

from lumos.app.report import write_report
from lumos.app.server.app import create_app
from lumos.app.server.config import ServerSettings, parse_tokens
from lumos.app.session import Session
from lumos.evals.cases import load_truth
from lumos.evals.replay import case_sources, seed_world
from lumos.graph.gate import bind
from lumos.tools.casefiles import CaseFiles
from lumos.tools.redact import redact, redact_value
from tests.conftest import DEMO_CASE
from tests.test_workflows_graph import Receiver
from fixtures_serve.procs import TOKEN_ENV, auth

SECRETS = {
    "password": "Hunter2-Pa55word!",
    "bearer": "abcDEF0123456789ghiJKLmnoPQR",
    "aws": "AKIAIOSFODNN7EXAMPLE",
    "private_key": "MIIEowIBAAKCAQEAzZ2Xb7PrivateKeyBody",
    "jwt_signature": "dozjgNryP4J3jVmNHl0w5N_XgL0n3I9PlFUP0THsR8U",
    "connection": "S3cretDbPass",
}
TEXT = (f"db login failed password={SECRETS['password']} using Authorization: Bearer {SECRETS['bearer']} "
        f"key {SECRETS['aws']} conn postgres://shop:{SECRETS['connection']}@db.internal:5432/orders "
        f"jwt eyJhbGciOiJIUzI1NiJ9.eyJzdWIiOiIxMjM0NTY3ODkwIn0.{SECRETS['jwt_signature']} "
        f"-----BEGIN RSA PRIVATE KEY-----\n{SECRETS['private_key']}\n-----END RSA PRIVATE KEY-----")


def leaks(blob: bytes | str) -> list[str]:
    """Which secrets appear in `blob`."""
    text = blob.decode("utf-8", "replace") if isinstance(blob, bytes) else blob
    return [name for name, secret in SECRETS.items() if secret in text]


def folder_leaks(home: Path) -> dict[str, list[str]]:
    """Secrets found in any file of a state folder (SQLite files, WAL files, reports), by file."""
    found = {}
    for path in home.rglob("*"):
        if path.is_file():
            names = leaks(path.read_bytes())
            if names:
                found[str(path.relative_to(home))] = names
    return found


def test_the_redactor_covers_every_kind():
    out = redact(TEXT, emails=False)
    assert not leaks(out), out
    assert "db.internal" not in out or "[REDACTED:connection_string]" in out
    model = CaseFiles(DEMO_CASE).load_all().alert.model_copy(update={"description": TEXT})
    clean = redact_value(model)
    assert type(clean) is type(model) and not leaks(clean.model_dump_json()) and clean.fingerprint == model.fingerprint
    untouched = {"a": ["plain text"], "b": 3}
    assert redact_value(untouched) is untouched, "clean data is returned as is"


def test_cli_incident_persists_no_secret(isolated_env, monkeypatch):
    receiver = Receiver()
    try:
        monkeypatch.setenv("LUMOS_NOTIFY_WEBHOOK_URL", receiver.url)
        session = Session.open(isolated_env)
        case = CaseFiles(DEMO_CASE).load_all()
        alert = case.alert.model_copy(update={"summary": f"checkout down {TEXT}", "description": TEXT,
                                              "labels": {**case.alert.labels, "note": TEXT}})
        incident_id = f"inc-secret-{time.monotonic_ns()}"
        seed_world(session.settings.simenv_db, incident_id, case, load_truth(DEMO_CASE))
        outcome = session.runner.start(alert, case_sources(DEMO_CASE), incident_id=incident_id)
        outcome = session.runner.resume(incident_id, bind(outcome.pending, {"decision": "reject", "approver": "bob",
                                                                             "comment": f"no: {TEXT}"}))
        assert outcome.status == "escalated" and outcome.approvals[-1].approver == "bob"
        write_report(session.settings.reports_dir, outcome, session.resources.audit.verify(incident_id))
    finally:
        receiver.close()
    assert receiver.bodies and not leaks(json.dumps(receiver.bodies)), "the escalation notification"
    assert folder_leaks(isolated_env) == {}, "audit trail, checkpoints and report"
    opened = [e for e in session.resources.audit.events(incident_id) if e.kind == "incident.opened"][0]
    assert "[REDACTED:" in opened.data["alert"]["description"]


def test_server_persists_and_answers_no_secret(tmp_path):
    config = ServerSettings(home=tmp_path / "home", api_tokens=parse_tokens(TOKEN_ENV), data_case=DEMO_CASE, poll_s=0.05)
    with TestClient(create_app(config)) as client:
        body = {"version": "1", "alerts": [{"name": "DbLoginFailures", "service": "frontend", "severity": "critical",
                                            "summary": TEXT[:2000], "description": TEXT, "labels": {"detail": TEXT[:300]},
                                            "annotations": {"runbook": TEXT[:500]}}]}
        incident = client.post("/webhooks/generic", json=body, headers=auth("alertmanager")).json()["results"][0]["incident_id"]
        deadline = time.monotonic() + 60
        while client.get(f"/incidents/{incident}", headers=auth("victor")).json()["incident"]["run_state"] not in ("waiting", "done"):
            assert time.monotonic() < deadline
            time.sleep(0.05)
        responses = [client.get(path, headers=auth("victor")).text for path in
                     ("/incidents", f"/incidents/{incident}", f"/incidents/{incident}/audit")]
        assert not any(leaks(r) for r in responses), "API responses"
    assert folder_leaks(tmp_path / "home") == {}, "the server's index, audit trail and checkpoints"


@pytest.mark.parametrize("text", [TEXT])
def test_precheck_never_skips_a_secret(text):
    from lumos.tools.redact import _SECRET_PATTERNS, _may_hold_secret

    for line in text.splitlines() + ["sk-proj-abcdefghijklmnopqrstuvwx", "ghp_0123456789abcdefghijABCDEFGHIJ", "AIza" + "x" * 35]:
        if any(p.search(line) for _, p in _SECRET_PATTERNS):
            assert _may_hold_secret(line), line
