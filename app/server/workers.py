"""Background workers: claim queued incidents from the store and run them on the graph."""

from __future__ import annotations

import logging
import os
import threading
import time
from typing import Any

from lumos.app.server.runtime import ServerRuntime
from lumos.app.server.store import Claim
from lumos.graph.gate import GateMismatch
from lumos.graph.runner import TERMINAL_STATUSES, IncidentOutcome
from lumos.tools.redact import redact

log = logging.getLogger("lumos.serve")

MAX_ERRORS = 3
"""Runs of one incident that may end in an error before it is escalated instead of retried."""
MAX_CONTINUES = 5
"""Times one claim continues a thread that still has pending work before giving up on it (escalation)."""

NODE_STATUS = {"intake": "diagnosing", "correlate": "diagnosed", "plan": "remediating", "resolve": "resolving"}


def _alive(pid: int) -> bool:
    """True when a process with this id exists on this host."""
    try:
        os.kill(pid, 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


class _Stopping(Exception):
    """Raised inside a run when the server shuts down; the incident goes back to the queue."""


class WorkerPool:
    """`workers` threads that claim incidents (bounded concurrency) plus a lease heartbeat."""

    def __init__(self, runtime: ServerRuntime):
        self.rt = runtime
        self.cfg = runtime.config
        self._stop = threading.Event()
        self._wake = threading.Event()
        self._threads: list[threading.Thread] = []
        self.busy = 0
        self._busy_lock = threading.Lock()

    def start(self) -> None:
        """Requeue incidents orphaned by a dead process on this host, then start the worker and heartbeat threads."""
        self.recover_orphans()
        for number in range(self.cfg.workers):
            self._threads.append(threading.Thread(target=self._loop, name=f"lumos-worker-{number}", daemon=True))
        self._threads.append(threading.Thread(target=self._heartbeat, name="lumos-heartbeat", daemon=True))
        for thread in self._threads:
            thread.start()

    def stop(self, timeout: float = 10.0) -> None:
        """Stop claiming; running incidents stop after their current node and are re-queued."""
        self._stop.set()
        self._wake.set()
        deadline = time.monotonic() + timeout
        for thread in self._threads:
            thread.join(max(0.0, deadline - time.monotonic()))

    def wake(self) -> None:
        """Tell idle workers there is new work (local intake or approval)."""
        self._wake.set()

    def recover_orphans(self) -> list[str]:
        """Requeue incidents claimed by a process of this host that no longer exists (no need to wait for its lease)."""
        host = self.cfg.node_id.rsplit(":", 1)[0]
        recovered = []
        for incident_id, owner in self.rt.store.running_claims():
            owner_host, _, pid = (owner or "").rpartition(":")
            if owner_host == host and pid.isdigit() and owner != self.cfg.node_id and not _alive(int(pid)):
                if self.rt.store.requeue(incident_id, owner):
                    recovered.append(incident_id)
        if recovered:
            log.warning("requeued %d incident(s) of a dead process: %s", len(recovered), ", ".join(recovered))
        return recovered

    def _heartbeat(self) -> None:
        while not self._stop.wait(self.cfg.lease_s / 3):
            try:
                self.rt.store.heartbeat(self.cfg.node_id, self.cfg.lease_s)
                self.expire_gates()
            except Exception:
                log.exception("lease heartbeat failed")

    def expire_gates(self) -> list[str]:
        """Queue a timeout rejection for every gate nobody decided in time (run by the heartbeat); wakes the workers."""
        expired = self.rt.store.expire_waiting(self.rt.settings.approval_timeout_s)
        if expired:
            self.wake()
        return expired

    def _loop(self) -> None:
        while not self._stop.is_set():
            try:
                claim = self.rt.store.claim(self.cfg.node_id, self.cfg.lease_s)
            except Exception:
                log.exception("claiming an incident failed")
                claim = None
            if claim is None:
                self._wake.wait(self.cfg.poll_s)
                self._wake.clear()
                continue
            with self._busy_lock:
                self.busy += 1
            try:
                self.run(claim)
            finally:
                with self._busy_lock:
                    self.busy -= 1

    def _progress(self, incident_id: str) -> Any:
        def hook(node: str) -> None:
            status = NODE_STATUS.get(node)
            if status:
                self.rt.store.progress(incident_id, self.cfg.node_id, status)
            if self.cfg.node_delay_s:
                time.sleep(self.cfg.node_delay_s)
            if self._stop.is_set():
                raise _Stopping()

        return hook

    def run(self, claim: Claim) -> None:
        """Run one claimed incident as far as it goes (to a gate or a terminal state), then release it.

        An error is retried on a later claim (up to MAX_ERRORS); then the incident escalates with the error as its reason.
        """
        incident_id, node = claim.incident_id, self.cfg.node_id
        try:
            outcome = self._advance(claim)
        except _Stopping:
            self.rt.store.finish(incident_id, node, run_state="queued", status="open", pending=None)
            return
        except Exception as exc:
            log.exception("incident %s failed", incident_id)
            error = redact(f"{type(exc).__name__}: {exc}"[:2000], emails=False)
            audit = self.rt.resources.audit
            audit.append(incident_id, "server.error", {"error": error}, actor="server")
            errors = sum(e.kind == "server.error" for e in audit.events(incident_id))
            if errors < MAX_ERRORS:
                self.rt.store.finish(incident_id, node, run_state="queued", status="open", pending=None, error=error)
                return
            outcome = self._give_up(incident_id, f"the server failed {errors} times running it; last error: {error}")
            if outcome is None:
                self.rt.store.finish(incident_id, node, run_state="failed", status="failed", pending=None, error=error)
                return
        state = "waiting" if outcome.waiting else "done"
        if not self.rt.store.finish(incident_id, node, run_state=state, status=outcome.status, pending=outcome.pending):
            log.warning("incident %s was taken over by another worker before %s finished", incident_id, node)

    def _give_up(self, incident_id: str, reason: str) -> IncidentOutcome | None:
        """Escalate an incident that cannot go on; None when even that fails (the row is then marked failed)."""
        try:
            return self.rt.runner.escalate_stalled(incident_id, reason)
        except Exception:
            log.exception("incident %s could not be escalated", incident_id)
            return None

    def _advance(self, claim: Claim) -> IncidentOutcome:
        """Start, resume or continue the incident until it waits at a gate or reaches a terminal state.

        Recovery goes by pending work, not by `snapshot.next`: a checkpoint whose tasks saved their writes but whose
        step was never completed (a kill -9 between the two) still has work to do.
        """
        runner, incident_id = self.rt.runner, claim.incident_id
        hook = self._progress(incident_id)
        if not runner.exists(incident_id):
            self.rt.seed_world(incident_id, claim.sources)
            outcome = runner.start(claim.alert, claim.sources, incident_id=incident_id, progress=hook)  # type: ignore[arg-type]
        else:
            outcome = runner.outcome(incident_id)
            if outcome.waiting and claim.decision is not None:
                try:
                    outcome = runner.resume(incident_id, claim.decision, progress=hook)
                except GateMismatch as exc:  # the checkpoint moved on since the decision was queued: refuse it, run nothing
                    self.rt.resources.audit.append(incident_id, "approval.refused", {"reason": str(exc), "decision": claim.decision},
                                                   actor="server")
                    outcome = runner.outcome(incident_id)
        for _ in range(MAX_CONTINUES):
            if outcome.waiting or outcome.status in TERMINAL_STATUSES:
                return outcome
            if not runner.pending_tasks(incident_id):
                break
            outcome = runner.continue_run(incident_id, progress=hook)
        if outcome.waiting or outcome.status in TERMINAL_STATUSES:
            return outcome
        reason = f"the incident stopped in status {outcome.status!r} with no pending work and no decision to wait for"
        log.warning("incident %s: %s; escalating", incident_id, reason)
        return runner.escalate_stalled(incident_id, reason, progress=hook)
