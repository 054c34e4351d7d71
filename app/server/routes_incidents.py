"""Incident API: list, detail, audit trail, approvals, and live events."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Path, Query, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.responses import StreamingResponse

from lumos.app.server.auth import Principal, require
from lumos.app.server.bodies import parse_json, read_body, validate
from lumos.app.server.config import Role
from lumos.app.server.events import event_stream
from lumos.app.server.routes_webhooks import body_doc
from lumos.app.server.store import IncidentRow
from lumos.app.server.views import ApprovalAccepted, ApprovalRequest, AuditResponse, IncidentDetail, TimelineEntry
from lumos.graph.gate import GateRequest
from lumos.tools.redact import redact

router = APIRouter(prefix="/incidents", tags=["incidents"])

IncidentId = Path(pattern=r"^[A-Za-z0-9_.:-]{1,100}$", description="The incident id (also its checkpointer thread).")
AUTH_ERRORS: dict[int | str, dict[str, Any]] = {401: {"description": "Missing or unknown token"}, 403: {"description": "Role too low"}}


def _row_or_404(request: Request, incident_id: str) -> IncidentRow:
    row = request.app.state.runtime.store.get(incident_id)
    if row is None:
        raise HTTPException(404, f"no incident {incident_id!r}")
    return row


@router.get("", response_model=list[IncidentRow], responses=AUTH_ERRORS)
def list_incidents(
    request: Request,
    status: str | None = Query(default=None, max_length=40, description="Only incidents with this status or run state."),
    limit: int = Query(default=100, ge=1, le=500),
    offset: int = Query(default=0, ge=0, le=1_000_000),
    who: Principal = Depends(require(Role.viewer)),
) -> list[IncidentRow]:
    """Incidents, newest first."""
    return request.app.state.runtime.store.list_incidents(status=status, limit=limit, offset=offset)


@router.get("/{incident_id}", response_model=IncidentDetail, responses={**AUTH_ERRORS, 404: {"description": "Unknown incident"}})
def get_incident(request: Request, incident_id: str = IncidentId, who: Principal = Depends(require(Role.viewer))) -> IncidentDetail:
    """One incident: state, hypotheses, evidence, plan, results, pending approval and timeline."""
    row = _row_or_404(request, incident_id)
    rt = request.app.state.runtime
    values = rt.runner.values(incident_id)
    timeline = [TimelineEntry(seq=e.seq, ts=e.ts.isoformat(), kind=e.kind, actor=e.actor) for e in rt.resources.audit.events(incident_id)]
    alerts = rt.store.alerts(incident_id)
    if not values:
        return IncidentDetail(incident=row, alerts=alerts, timeline=timeline)
    hypotheses = values.get("hypotheses") or []
    dep = values.get("dependency_report")
    pending = row.pending if row.run_state == "waiting" else None
    return IncidentDetail(
        incident=row,
        alerts=alerts,
        hypotheses=hypotheses,
        evidence=list(hypotheses[0].evidence) if hypotheses else [],
        runbook=values.get("runbook"),
        plan=values.get("plan") or [],
        results=values.get("results") or [],
        approvals=values.get("approvals") or [],
        pending=pending,
        escalation=values.get("escalation"),
        summary=values.get("summary"),
        dependency_mermaid=dep.mermaid if dep else None,
        blast_radius=list(dep.blast_radius) if dep else [],
        notes=values.get("notes") or [],
        timeline=timeline,
    )


@router.get("/{incident_id}/audit", response_model=AuditResponse, responses={**AUTH_ERRORS, 404: {"description": "Unknown incident"}})
def get_audit(request: Request, incident_id: str = IncidentId, who: Principal = Depends(require(Role.viewer))) -> AuditResponse:
    """Every audit record of the incident, and the result of verifying its hash chain."""
    _row_or_404(request, incident_id)
    audit = request.app.state.runtime.resources.audit
    return AuditResponse(incident_id=incident_id, verify=audit.verify(incident_id), events=audit.events(incident_id))


@router.post(
    "/{incident_id}/approvals/{step}",
    response_model=ApprovalAccepted,
    status_code=202,
    openapi_extra=body_doc(ApprovalRequest),
    responses={**AUTH_ERRORS, 404: {"description": "Unknown incident"},
               409: {"description": "Not waiting for this gate (another step or gate is pending, or it was decided meanwhile)"},
               400: {"description": "Malformed JSON"}, 415: {"description": "Not JSON"}, 422: {"description": "Invalid decision"}},
)
async def decide(
    request: Request,
    incident_id: str = IncidentId,
    step: str = Path(pattern=r"^[A-Za-z0-9_.:-]{1,100}$", description="The pending step's index or step id."),
    who: Principal = Depends(require(Role.approver)),
) -> ApprovalAccepted:
    """Approve or reject the pending gate named by `gate_id` and `params_hash`; the approver is the token's name.

    The decision is checked against the gate actually pending in the incident's checkpoint (not only the server's copy),
    again when it is queued, and once more by the graph's gate: a mismatch anywhere is a 409 (or a recorded refusal) and
    nothing runs.
    """
    rt = request.app.state.runtime
    body = validate(ApprovalRequest, parse_json(await read_body(request, 64 * 1024)), "approval")
    row = await run_in_threadpool(_row_or_404, request, incident_id)
    pending = await run_in_threadpool(_live_pending, rt, row)
    if pending is None:
        raise HTTPException(409, f"incident {incident_id} is not waiting for an approval (run state {row.run_state}, status {row.status})")
    if step not in (str(pending.get("step_index")), str(pending.get("step_id"))):
        raise HTTPException(409, f"incident {incident_id} is waiting for step {pending.get('step_index')} ({pending.get('step_id')}), not {step}")
    gate = GateRequest.model_validate(pending)
    claimed = {"gate_id": body.gate_id, "params_hash": body.params_hash, "step_index": gate.step_index,
               "action": body.action if body.action is not None else gate.action}
    problem = gate.binding().mismatch(claimed)
    if problem is not None:
        raise HTTPException(409, f"incident {incident_id}: {problem}; nothing was run (pending gate {gate.gate_id})")
    role = _role(who, list(pending.get("approver_roles") or []))
    decision = gate.decide(body.decision, who.name, comment=redact(body.comment, emails=False), role=role)
    if await run_in_threadpool(rt.store.decide, incident_id, decision.model_dump(mode="json")) != "queued":
        raise HTTPException(409, f"incident {incident_id} was decided by someone else meanwhile, or moved on; nothing was run")
    request.app.state.workers.wake()
    return ApprovalAccepted(incident_id=incident_id, step=step, gate_id=gate.gate_id, decision=body.decision, approver=who.name)


def _live_pending(rt: Any, row: IncidentRow) -> dict[str, Any] | None:
    """The gate pending in the checkpoint when the server's row says the incident waits (the row is refreshed if stale)."""
    if row.run_state != "waiting":
        return None
    live = rt.runner.outcome(row.incident_id).pending
    if live is None:
        return None
    if (row.pending or {}).get("gate_id") != live.get("gate_id"):
        rt.store.refresh_pending(row.incident_id, live)
    return live


def _role(who: Principal, needed: list[str]) -> str | None:
    """The token's group that the gate needs (else its first group): roles come from the token, never the body."""
    matching = [g for g in who.groups if g in needed]
    return (matching or who.groups or [None])[0]


@router.get("/{incident_id}/events", responses={**AUTH_ERRORS, 404: {"description": "Unknown incident"},
                                                  200: {"content": {"text/event-stream": {}}, "description": "Server-sent events"}})
def events(
    request: Request,
    incident_id: str = IncidentId,
    after: int = Query(default=0, ge=0, le=10_000_000, description="Only audit records after this sequence number."),
    who: Principal = Depends(require(Role.viewer)),
) -> StreamingResponse:
    """Server-sent events: `audit` (each new audit record) and `status` (run state / status changes)."""
    _row_or_404(request, incident_id)
    last = request.headers.get("last-event-id", "")
    start = int(last) if last.isdigit() else after
    return StreamingResponse(
        event_stream(request, incident_id, start), media_type="text/event-stream",
        headers={"Cache-Control": "no-cache", "X-Accel-Buffering": "no"},
    )
