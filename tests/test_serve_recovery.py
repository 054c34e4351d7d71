"""Crash recovery goes by pending work: a step whose tasks saved their writes but whose checkpoint was never
written (kill -9 between the two) is continued, never marked done; an incident that cannot go on escalates."""

from __future__ import annotations

import pytest

from lumos.app.server.config import ServerSettings
from lumos.app.server.runtime import ServerRuntime
from lumos.app.server.workers import WorkerPool
from lumos.graph.gate import bind
from lumos.tools.casefiles import CaseFiles
from fixtures_serve.procs import DEMO_CASE


class Crash(BaseException):
    """The process dies (nothing after this point runs)."""


@pytest.fixture
def runtime(tmp_path):
    rt = ServerRuntime.open(ServerSettings(home=tmp_path / "home", data_case=DEMO_CASE))
    yield rt
    rt.close()


def _claim(rt: ServerRuntime):
    alert = CaseFiles(DEMO_CASE).load_all().alert
    rt.store.intake([alert], group_by=["alertname"], window_s=60, max_queue=10, sources=rt.sources())
    return rt.store.claim(rt.config.node_id, lease_s=60)


def _crash_before_checkpoint_after(rt: ServerRuntime, node: str, monkeypatch) -> None:
    """Make the checkpointer die on the first checkpoint after `node` saved its writes."""
    saver = rt.runner.graph.checkpointer
    original_writes, original_put = saver.put_writes, saver.put
    seen: list[str] = []

    def put_writes(config, writes, task_id, task_path=""):
        seen.append(str(task_path))
        return original_writes(config, writes, task_id, task_path)

    def put(config, checkpoint, metadata, new_versions):
        if any(node in path for path in seen):
            raise Crash(f"killed after {node} saved its writes")
        return original_put(config, checkpoint, metadata, new_versions)

    monkeypatch.setattr(saver, "put_writes", put_writes)
    monkeypatch.setattr(saver, "put", put)


def test_saved_writes_without_a_checkpoint_are_continued_not_marked_done(runtime, monkeypatch):
    claim = _claim(runtime)
    _crash_before_checkpoint_after(runtime, "correlate", monkeypatch)
    with pytest.raises(Crash):
        WorkerPool(runtime).run(claim)
    monkeypatch.undo()

    config = {"configurable": {"thread_id": claim.incident_id}}
    snapshot = runtime.runner.graph.get_state(config)
    assert snapshot.next == () and [t.name for t in snapshot.tasks] == ["correlate"], "the finding-1 condition is reproduced"
    assert runtime.runner.outcome(claim.incident_id).status not in ("resolved", "escalated")

    runtime.store.requeue(claim.incident_id, runtime.config.node_id)
    again = runtime.store.claim(runtime.config.node_id, lease_s=60)
    WorkerPool(runtime).run(again)
    row = runtime.store.get(claim.incident_id)
    assert row.run_state == "waiting" and row.pending["type"] == "approval_request"
    kinds = [e.kind for e in runtime.resources.audit.events(claim.incident_id)]
    assert kinds.count("diagnosis.ranked") == 1 and "approval.requested" in kinds


def test_no_pending_work_and_no_terminal_state_escalates_with_a_reason(runtime):
    claim = _claim(runtime)
    pool = WorkerPool(runtime)
    pool.run(claim)
    assert runtime.store.get(claim.incident_id).run_state == "waiting"
    # A thread left at its end without a terminal status (e.g. by a hand-edited checkpoint) is not "done".
    config = {"configurable": {"thread_id": claim.incident_id}}
    runtime.runner.graph.update_state(config, {"status": "remediating"}, as_node="escalate")
    assert runtime.runner.pending_tasks(claim.incident_id) == ()
    pending = runtime.store.get(claim.incident_id).pending
    assert runtime.store.decide(claim.incident_id, bind(pending, {"decision": "reject", "approver": "x"})) == "queued"
    pool.run(runtime.store.claim(runtime.config.node_id, lease_s=60))
    row = runtime.store.get(claim.incident_id)
    assert (row.run_state, row.status) == ("done", "escalated")
    escalated = [e for e in runtime.resources.audit.events(claim.incident_id) if e.kind == "incident.escalated"]
    assert escalated and "no pending work" in escalated[-1].data["reason"]
