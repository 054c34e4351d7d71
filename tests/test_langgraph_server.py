"""`langgraph dev` serves the compiled incident graph from langgraph.json, and its gate interrupts."""

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
from lumos.tools.casefiles import CaseFiles
from lumos.tools.settings import Settings
from tests.conftest import DEMO_CASE, REPO


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        return sock.getsockname()[1]


@pytest.fixture
def langgraph_server(isolated_env):
    if shutil.which("langgraph") is None:
        pytest.skip("langgraph CLI (langgraph-cli[inmem], a dev extra) is not installed")
    port = _free_port()
    env = {**os.environ, "LUMOS_HOME": str(isolated_env)}
    proc = subprocess.Popen(
        ["langgraph", "dev", "--no-browser", "--no-reload", "--port", str(port)],
        cwd=REPO, env=env, stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL,
    )
    base = f"http://127.0.0.1:{port}"
    try:
        deadline = time.time() + 60
        while time.time() < deadline:
            try:
                if httpx.get(f"{base}/ok", timeout=1).status_code == 200:
                    break
            except httpx.HTTPError:
                time.sleep(0.3)
        else:
            pytest.fail("langgraph dev did not start within 60 s")
        yield base
    finally:
        proc.terminate()
        try:
            proc.wait(timeout=10)
        except subprocess.TimeoutExpired:
            proc.kill()


def test_langgraph_dev_runs_incident_to_the_approval_gate(langgraph_server, isolated_env):
    case = CaseFiles(DEMO_CASE).load_all()
    client = httpx.Client(base_url=langgraph_server, timeout=60)
    thread = client.post("/threads", json={}).json()["thread_id"]
    seed_world(Settings.from_env(home=isolated_env).simenv_db, thread, case, load_truth(DEMO_CASE))
    run_input = {"alert": json.loads(case.alert.model_dump_json()), "sources": {"kind": "case", "path": str(DEMO_CASE)}}
    response = client.post(f"/threads/{thread}/runs/wait", json={"assistant_id": "incident", "input": run_input})
    assert response.status_code == 200, response.text
    state = response.json()
    assert state["hypotheses"], state
    interrupts = state.get("__interrupt__") or []
    assert interrupts and interrupts[0]["value"]["type"] == "approval_request"
    assert not [r for r in state.get("results", []) if r["destructive"]]
