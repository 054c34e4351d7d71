"""Chaos on `lumos serve`: alerts in, kill -9 at random points, restart, approve via the API; nothing may be lost.

Starts `lumos serve` on a loopback port in a temporary state folder (data from the bundled demo case),
sends --alerts alerts (a third plain, a third after a deploy, a third on the database, whose workflow gates
every step), and meanwhile kills
the server with SIGKILL --kills times at random 0.3-1.5 s intervals -- some right after an approval was
queued (during action execution), some while incidents wait at a gate -- restarting it after each kill.
An approver approves (now and then rejects) every pending gate through the API, bound to the gate shown.
At the end every incident must be done in a terminal state (resolved or escalated), no action may have
run twice (simulated-world ledger vs audit trail), no gated action may have run without its approval
record, and every audit chain must verify. The last line is the verdict:

    alerts=30 lost=0 stuck=0 duplicate_actions=0 audit_failures=0

    python benchmarks/serve_chaos.py --alerts 30 --kills 12 --seed 1
"""

from __future__ import annotations

import argparse
import json
import os
import random
import signal
import socket
import sqlite3
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from pathlib import Path

import httpx

REPO = Path(__file__).resolve().parents[1]
DEMO_CASE = REPO / "evals" / "cases" / "demo" / "shop-bad-deploy"
TOKENS = {"alice": "chaos-approver-token-0123456789", "am": "chaos-responder-token-0123456789", "viewer": "chaos-viewer-token-0123456789"}
TOKEN_ENV = f"alice:approver+dba+oncall:{TOKENS['alice']},am:responder:{TOKENS['am']},viewer:viewer:{TOKENS['viewer']}"
TERMINAL = ("resolved", "escalated")
ALERT_TIME = "2025-05-24T11:21:51Z"
"""When the demo case's fault shows in its data (alerts are dated then, so each incident is diagnosed as in the demo)."""


def headers(name: str) -> dict[str, str]:
    """Authorization header of a benchmark token."""
    return {"Authorization": f"Bearer {TOKENS[name]}"}


def log(message: str) -> None:
    """Progress on stderr (the verdict alone goes to stdout)."""
    print(f"[{time.strftime('%H:%M:%S')}] {message}", file=sys.stderr, flush=True)


class Server:
    """`lumos serve` as a subprocess in its own process group (so SIGKILL takes all of it)."""

    def __init__(self, home: Path, workers: int, node_delay: float):
        with socket.socket() as sock:
            sock.bind(("127.0.0.1", 0))
            self.port = sock.getsockname()[1]
        self.url = f"http://127.0.0.1:{self.port}"
        self.env = {**{k: v for k, v in os.environ.items() if not k.startswith("LUMOS_")}, "LUMOS_HOME": str(home),
                    "LUMOS_API_TOKENS": TOKEN_ENV, "LUMOS_DATA_CASE": str(DEMO_CASE), "LUMOS_WORKERS": str(workers),
                    "LUMOS_POLL_S": "0.1", "LUMOS_NODE_DELAY_S": str(node_delay), "LUMOS_LEASE_S": "10"}
        self.log = open(home.parent / "serve.log", "ab")
        self.proc: subprocess.Popen | None = None
        self.starts = 0

    def start(self, timeout: float = 60.0) -> None:
        """Start and wait for /healthz."""
        self.proc = subprocess.Popen(
            [sys.executable, "-c", "from lumos.app.cli import main; main()", "serve", "--port", str(self.port), "--log-level", "warning"],
            env=self.env, stdout=self.log, stderr=subprocess.STDOUT, start_new_session=True, cwd=str(REPO))
        self.starts += 1
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"lumos serve exited with {self.proc.returncode}; see {self.log.name}")
            try:
                if httpx.get(self.url + "/healthz", timeout=2).status_code == 200:
                    return
            except httpx.HTTPError:
                pass
            time.sleep(0.1)
        raise RuntimeError(f"lumos serve did not answer /healthz within {timeout:.0f}s")

    def kill9(self) -> None:
        """SIGKILL the whole process group."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(10)

    def stop(self) -> None:
        """SIGTERM (graceful), then SIGKILL."""
        if self.proc is not None and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(20)
            except subprocess.TimeoutExpired:
                self.kill9()
        self.log.close()


class Chaos:
    """The alert sender, approver and killer, sharing one seeded RNG under a lock."""

    def __init__(self, server: Server, args: argparse.Namespace):
        self.server, self.args = server, args
        self.rng = random.Random(args.seed)
        self.lock = threading.Lock()
        self.incidents: dict[str, str] = {}  # fingerprint -> incident id
        self.decided: set[str] = set()  # gate ids this approver already decided
        self.decisions: Counter = Counter()
        self.approved_at = 0.0
        self.done = threading.Event()

    def request(self, method: str, path: str, who: str, **kwargs) -> httpx.Response | None:
        """One API call; None while the server is down (it is being killed and restarted)."""
        try:
            return httpx.request(method, self.server.url + path, headers=headers(who), timeout=10, **kwargs)
        except httpx.HTTPError:
            return None

    def send_alerts(self) -> None:
        """Every alert until it is accepted (re-sent after a kill: the fingerprint makes a resend a duplicate)."""
        for i in range(self.args.alerts):
            # Three workflows: default (one gate), bad-deploy-fast-rollback (role oncall), critical database (every step, role dba).
            service, labels = [("frontend", {}), ("frontend", {"change": "deploy"}), ("shop-db", {})][i % 3]
            body = {"version": "1", "alerts": [{"name": f"ChaosAlert{i}", "service": service, "severity": "critical", "labels": labels,
                                                "fingerprint": f"chaos-{self.args.seed}-{i}", "summary": f"chaos alert {i}",
                                                "starts_at": ALERT_TIME}]}
            while True:
                response = self.request("POST", "/webhooks/generic", "am", json=body)
                if response is not None and response.status_code == 200:
                    result = response.json()["results"][0]
                    self.incidents[body["alerts"][0]["fingerprint"]] = result["incident_id"]
                    break
                time.sleep(0.1)
            with self.lock:
                pause = self.rng.uniform(0.0, 0.2)
            time.sleep(pause)

    def approve_pending(self) -> int:
        """Decide every gate the server shows as pending; returns how many decisions were queued."""
        response = self.request("GET", "/incidents?status=waiting&limit=500", "viewer")
        if response is None or response.status_code != 200:
            return 0
        queued = 0
        for row in response.json():
            pending = row.get("pending") or {}
            gate = pending.get("gate_id")
            if not gate or gate in self.decided:
                continue
            with self.lock:
                decision = "reject" if self.rng.random() < self.args.reject_ratio else "approve"
            body = {"decision": decision, "gate_id": gate, "params_hash": pending["params_hash"], "comment": "chaos benchmark"}
            answer = self.request("POST", f"/incidents/{row['incident_id']}/approvals/{pending['step_index']}", "alice", json=body)
            if answer is not None and answer.status_code == 202:
                self.decided.add(gate)
                self.decisions[decision] += 1
                self.approved_at = time.monotonic()
                queued += 1
        return queued

    def approver(self) -> None:
        """Keep deciding gates until the run ends."""
        while not self.done.is_set():
            self.approve_pending()
            time.sleep(0.2)

    def kill_once(self, number: int) -> None:
        """Wait a random 0.3-1.5 s (aiming some kills at action execution or at gates), kill -9, restart."""
        with self.lock:
            wait, mode = self.rng.uniform(0.3, 1.5), self.rng.choice(["random", "after_approval", "at_gate"])
        time.sleep(wait)
        if mode == "after_approval":  # a decision was just queued: the worker is executing the approved step
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline and time.monotonic() - self.approved_at > 0.3:
                time.sleep(0.02)
        elif mode == "at_gate":
            deadline = time.monotonic() + 5
            while time.monotonic() < deadline:
                response = self.request("GET", "/incidents?status=waiting&limit=1", "viewer")
                if response is not None and response.status_code == 200 and response.json():
                    break
                time.sleep(0.05)
        self.server.kill9()
        log(f"kill {number}/{self.args.kills} ({mode})")
        self.server.start()

    def rows(self) -> dict[str, dict]:
        """Every incident row by id (empty while the server is down)."""
        response = self.request("GET", "/incidents?limit=500", "viewer")
        return {r["incident_id"]: r for r in response.json()} if response is not None and response.status_code == 200 else {}

    def settled(self) -> bool:
        """True when every incident of every alert is done (or failed: that counts as lost)."""
        rows = self.rows()
        ids = set(self.incidents.values())
        return len(self.incidents) == self.args.alerts and bool(rows) and all(
            i in rows and rows[i]["run_state"] in ("done", "failed") for i in ids)


def audit_figures(home: Path, incidents: set[str]) -> tuple[int, int, int]:
    """(duplicate actions, gated actions without an approval record, audit chains failing verification) from the files."""
    from lumos.graph.audit import AuditTrail

    trail = AuditTrail(home / "audit.sqlite")
    ledger = sqlite3.connect(home / "simenv.sqlite")
    duplicates = unapproved = 0
    for incident in sorted(incidents):
        events = trail.events(incident)
        executed = [e.data["result"] for e in events if e.kind in ("action.executed", "rollback.executed")]
        keys = Counter(r["idempotency_key"] for r in executed)
        ledger_keys = Counter(r[0] for r in ledger.execute("SELECT idempotency_key FROM sim_ledger WHERE world_id=?", (incident,)))
        duplicates += sum(n - 1 for n in keys.values() if n > 1) + sum(n - 1 for n in ledger_keys.values() if n > 1)
        duplicates += len(set(ledger_keys) - set(keys))  # ran in the world more often than recorded (or unrecorded)
        approved = {(e.data["gate"]["step_index"]) for e in events if e.kind == "approval.decided"
                    and e.data["approval"]["decision"] == "approve"}
        unapproved += sum(1 for r in executed if r["destructive"] and r["step_index"] not in approved)
    ledger.close()
    failures = sum(1 for result in trail.verify_all() if not result.ok)
    return duplicates, unapproved, failures


def main(argv: list[str] | None = None) -> int:
    """Run the benchmark; exit 1 unless every figure of the verdict is 0."""
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--alerts", type=int, default=30)
    parser.add_argument("--kills", type=int, default=12)
    parser.add_argument("--seed", type=int, default=1)
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--reject-ratio", type=float, default=0.15, help="Share of gates the approver rejects.")
    parser.add_argument("--node-delay", type=float, default=0.05, help="Pause after each graph node (widens the windows kills hit).")
    parser.add_argument("--timeout", type=float, default=900.0, help="Seconds to wait for every incident to settle after the kills.")
    args = parser.parse_args(argv)
    t0 = time.monotonic()
    with tempfile.TemporaryDirectory(prefix="lumos-chaos-") as tmp:
        home = Path(tmp) / "home"
        home.mkdir()
        server = Server(home, args.workers, args.node_delay)
        chaos = Chaos(server, args)
        server.start()
        sender = threading.Thread(target=chaos.send_alerts, name="sender")
        approver = threading.Thread(target=chaos.approver, name="approver", daemon=True)
        sender.start()
        approver.start()
        try:
            for number in range(1, args.kills + 1):
                chaos.kill_once(number)
            sender.join()
            deadline = time.monotonic() + args.timeout
            while time.monotonic() < deadline and not chaos.settled():
                time.sleep(0.5)
            rows = chaos.rows()
        finally:
            chaos.done.set()
            server.stop()
        ids = set(chaos.incidents.values())
        lost = args.alerts - len(chaos.incidents)  # alerts never accepted
        lost += sum(1 for i in ids if i not in rows or rows[i]["run_state"] == "failed"
                    or (rows[i]["run_state"] == "done" and rows[i]["status"] not in TERMINAL))
        stuck = sum(1 for i in ids if i in rows and rows[i]["run_state"] not in ("done", "failed"))
        duplicates, unapproved, failures = audit_figures(home, ids)
        outcomes = Counter(rows[i]["status"] for i in ids if i in rows)
        log(f"{len(ids)} incidents: {dict(outcomes)}; server started {server.starts} times; {time.monotonic() - t0:.0f} s; "
            f"gates decided: {dict(chaos.decisions)}")
    print(f"incidents={len(ids)} kills={args.kills} seed={args.seed} unapproved_actions={unapproved} "
          f"seconds={time.monotonic() - t0:.0f}")
    print(f"alerts={args.alerts} lost={lost} stuck={stuck} duplicate_actions={duplicates} audit_failures={failures}")
    return 0 if not (lost or stuck or duplicates or failures or unapproved) else 1


if __name__ == "__main__":
    sys.exit(main())
