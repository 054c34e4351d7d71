"""`langgraph dev` serves the incident graph from langgraph.json behind the same tokens and roles as `lumos serve`.

Finding 3/4 on LangGraph Server: anonymous clients could resume gates and self-assert an approver role.
"""

from __future__ import annotations

import json
import os
import shutil
import socket
import subprocess
import time

import httpx
import pytest

from lumos.evals.cases import load_truth
from lumos.evals.replay import seed_world
from lumos.graph.audit import AuditTrail
from lumos.graph.gate import bind
from lumos.tools.casefiles import CaseFiles
from lumos.tools.settings import Settings
from tests.conftest import DEMO_CASE, REPO
from fixtures_serve.procs import TOKEN_ENV, auth

DBA_TOKEN = "dana-dba-approver-token-0123456789"


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture(scope="module")
def server(tmp_path_factory):
    if shutil.which("langgraph") is None:
        pytest.skip("langgraph CLI (langgraph-cli[inmem], a dev extra) is not installed")
    home = tmp_path_factory.mktemp("lg-home")
    port = _free_port()
    env = {**{k: v for k, v in os.environ.items() if not k.startswith(("LUMOS_", "OPENAI_"))}, "LUMOS_HOME": str(home),
           "LUMOS_API_TOKENS": f"{TOKEN_ENV},dana:approver+dba:{DBA_TOKEN}"}
    log = open(home.parent / "langgraph-dev.log", "wb")
    proc = subprocess.Popen(["langgraph", "dev", "--no-browser", "--no-reload", "--port", str(port)],
                            cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.monotonic() + 90
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{base}/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("langgraph dev did not start within 90 s: " + (home.parent / "langgraph-dev.log").read_text()[-2000:])
        yield base, home
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()
        log.close()


def start_incident(base: str, home, service: str | None = None) -> tuple[str, dict]:
    """Open an incident thread as a responder and run it to its first gate."""
    client = httpx.Client(base_url=base, timeout=120, headers=auth("alertmanager"))
    case = CaseFiles(DEMO_CASE).load_all()
    thread = client.post("/threads", json={}).json()["thread_id"]
    seed_world(Settings.from_env({}, home=home).simenv_db, thread, case, load_truth(DEMO_CASE))
    alert = json.loads(case.alert.model_dump_json())
    alert["description"] = "login failed password=Hunter2-Pa55word!"
    if service:
        alert["service"] = service
    run_input = {"alert": alert, "sources": {"kind": "case", "path": str(DEMO_CASE)}}
    response = client.post(f"/threads/{thread}/runs/wait", json={"assistant_id": "incident", "input": run_input})
    assert response.status_code == 200, response.text
    return thread, response.json()


def resume(base: str, thread: str, value: dict, token: dict) -> httpx.Response:
    return httpx.post(f"{base}/threads/{thread}/runs/wait", headers=token, timeout=120,
                      json={"assistant_id": "incident", "command": {"resume": value}})


def test_no_token_no_graph(server):
    base, _ = server
    assert httpx.post(f"{base}/threads", json={}, timeout=10).status_code == 401
    assert httpx.post(f"{base}/threads", json={}, headers={"Authorization": "Bearer not-a-token-0123456789"}, timeout=10).status_code == 401
    assert httpx.post(f"{base}/threads", json={}, headers=auth("victor"), timeout=10).status_code == 403, "a viewer opens nothing"


def test_incident_runs_to_the_gate_and_only_an_approver_resumes_it(server):
    base, home = server
    thread, state = start_incident(base, home)
    assert state["hypotheses"] and not [r for r in state.get("results", []) if r["destructive"]]
    interrupts = state.get("__interrupt__") or []
    request = interrupts[0]["value"]
    assert request["type"] == "approval_request" and request["gate_id"].startswith("g-") and len(request["params_hash"]) == 64
    assert "Hunter2" not in json.dumps(state), "the input alert was redacted before it was stored"

    anonymous = httpx.post(f"{base}/threads/{thread}/runs/wait", json={"assistant_id": "incident", "command": {"resume": {}}}, timeout=30)
    assert anonymous.status_code == 401
    approve = bind(request, {"decision": "approve", "approver": "mallory", "role": "dba"})
    assert resume(base, thread, approve, auth("alertmanager")).status_code == 403, "a responder cannot answer a gate"
    forge = httpx.post(f"{base}/threads/{thread}/state", headers=auth("alice"), timeout=30,
                       json={"values": {"approvals": []}, "as_node": "approval_gate"})
    assert forge.status_code == 403, "only admins edit thread state"

    stale = resume(base, thread, {**approve, "gate_id": "g-" + "1" * 32}, auth("alice"))
    assert stale.status_code == 200 and (stale.json().get("__interrupt__") or []), "a decision for another gate is refused"
    done = resume(base, thread, approve, auth("alice"))
    assert done.status_code == 200, done.text
    final = done.json()
    assert final["status"] in ("resolved", "escalated") and any(r["destructive"] for r in final["results"])

    events = AuditTrail(home / "audit.sqlite").events(thread)
    refused = [e for e in events if e.kind == "approval.refused"]
    decided = [e for e in events if e.kind == "approval.decided"]
    assert refused and decided[-1].actor == "human:alice", "the approver is the token's name, not the payload's"
    assert decided[-1].data["via"] == "langgraph-server" and decided[-1].data["gate"]["gate_id"] == request["gate_id"]
    assert decided[-1].data["role"] is None, "alice's token has no group: the payload's 'dba' is not taken"


def test_a_role_comes_from_the_token(server):
    base, home = server
    thread, state = start_incident(base, home, service="shop-db")
    request = state["__interrupt__"][0]["value"]
    assert request["approver_roles"] == ["dba"]
    self_asserted = resume(base, thread, bind(request, {"decision": "approve", "approver": "x", "role": "dba"}), auth("alice"))
    assert self_asserted.json()["status"] == "escalated" and not self_asserted.json().get("results")
    thread, state = start_incident(base, home, service="shop-db")
    request = state["__interrupt__"][0]["value"]
    dana = resume(base, thread, bind(request, {"decision": "approve", "approver": "x"}), {"Authorization": f"Bearer {DBA_TOKEN}"})
    assert dana.status_code == 200 and dana.json()["approvals"][-1]["role"] == "dba"
    assert dana.json()["approvals"][-1]["approver"] == "dana"
