"""Webhook intake: Alertmanager v4, PagerDuty v3 (signed), and the generic JSON format."""

from __future__ import annotations

from typing import Any

from fastapi import APIRouter, Depends, HTTPException, Request, Response
from fastapi.concurrency import run_in_threadpool

from lumos.app.server.auth import Principal, require
from lumos.app.server.bodies import check_version, parse_json, read_body, validate
from lumos.app.server.config import Role
from lumos.app.server.payloads import GenericPayload, PagerDutyWebhook, from_generic, from_pagerduty, verify_pagerduty_signature
from lumos.app.server.store import QueueFull
from lumos.app.server.views import IntakeResponse
from lumos.tools.domain import Alert, AlertmanagerPayload
from lumos.tools.redact import redact_value

router = APIRouter(prefix="/webhooks", tags=["webhooks"])

ERRORS: dict[int | str, dict[str, Any]] = {
    400: {"description": "Malformed JSON or empty body"},
    401: {"description": "Missing or unknown token, or a bad signature"},
    403: {"description": "The token's role may not send alerts"},
    413: {"description": "Body over the size limit"},
    415: {"description": "Content type is not application/json"},
    422: {"description": "Payload does not match the schema, or an unknown payload version"},
    503: {"description": "The run queue is full; retry after Retry-After seconds"},
}


def body_doc(model: type) -> dict[str, Any]:
    """openapi_extra documenting a JSON request body validated by hand."""
    return {"requestBody": {"required": True, "content": {"application/json": {"schema": {"$ref": f"#/components/schemas/{model.__name__}"}}}}}


PAGERDUTY_PREFIX = "pd-"
"""Fingerprints of PagerDuty alerts; reserved to the signed endpoint so an unsigned delivery cannot touch them."""


def refuse_reserved_fingerprints(alerts: list[Alert]) -> None:
    """422 when an unsigned delivery names a PagerDuty fingerprint (it could resolve or shadow a signed alert)."""
    for number, alert in enumerate(alerts):
        if alert.fingerprint.startswith(PAGERDUTY_PREFIX):
            raise HTTPException(422, {"message": "invalid alert", "problems": [{
                "field": f"alerts.{number}.fingerprint",
                "message": f"fingerprints starting with {PAGERDUTY_PREFIX!r} belong to signed PagerDuty deliveries (/webhooks/pagerduty)"}]})


def _record(request: Request, alerts: list[Alert]) -> Response:
    rt = request.app.state.runtime
    cfg = rt.config
    alerts = [redact_value(alert) for alert in alerts]  # stored, shown and run without the secrets they may carry
    try:
        outcomes = rt.store.intake(alerts, group_by=cfg.group_by, window_s=cfg.group_window_s, max_queue=cfg.max_queue,
                                   sources=rt.sources())
    except QueueFull as exc:
        raise HTTPException(503, f"run queue is full: {exc}; retry later", headers={"Retry-After": str(cfg.retry_after_s)}) from None
    by_fp = {a.fingerprint: a for a in alerts}
    for result in outcomes:
        if result.outcome == "resolved" and result.incident_id:
            alert = by_fp[result.fingerprint]
            rt.resources.audit.append(
                result.incident_id, f"alert.{result.outcome}", {"alert": alert}, actor=f"alert:{alert.source}",
                dedupe_key=f"alert.{result.outcome}:{alert.fingerprint}:{alert.starts_at.isoformat()}",
            )
    new = sum(r.outcome == "new_incident" for r in outcomes)
    if new:
        request.app.state.workers.wake()
    body = IntakeResponse(received=len(alerts), new_incidents=new, results=outcomes)
    return Response(body.model_dump_json(), media_type="application/json")  # already validated: skip re-validation


@router.post("/alertmanager", response_model=IntakeResponse, responses=ERRORS, openapi_extra=body_doc(AlertmanagerPayload))
async def alertmanager(request: Request, who: Principal = Depends(require(Role.responder))) -> Response:
    """Alertmanager webhook receiver (payload version 4); alerts are grouped into incidents."""
    data = parse_json(await read_body(request, request.app.state.runtime.config.max_body_bytes))
    check_version(data, "4", "Alertmanager")
    payload = validate(AlertmanagerPayload, data, "Alertmanager payload")
    alerts = Alert.from_alertmanager(payload)
    refuse_reserved_fingerprints(alerts)
    return await run_in_threadpool(_record, request, alerts)


@router.post("/pagerduty", response_model=IntakeResponse, responses=ERRORS, openapi_extra=body_doc(PagerDutyWebhook))
async def pagerduty(request: Request, who: Principal = Depends(require(Role.responder))) -> Response:
    """PagerDuty v3 webhook (X-PagerDuty-Signature: v1=<hmac-sha256 hex>); triggered/resolved incidents become alerts."""
    cfg = request.app.state.runtime.config
    body = await read_body(request, cfg.max_body_bytes)
    if not cfg.pagerduty_secret:
        raise HTTPException(403, "PagerDuty webhooks are disabled: set LUMOS_PAGERDUTY_SECRET to the subscription's secret")
    if not verify_pagerduty_signature(cfg.pagerduty_secret, body, request.headers.get("x-pagerduty-signature")):
        raise HTTPException(401, "X-PagerDuty-Signature is missing or does not match the body (HMAC-SHA256, v1=<hex>)")
    data = parse_json(body)
    if isinstance(data, dict) and isinstance(data.get("event"), dict):
        check_version(data["event"], "3", "PagerDuty")
    hook = validate(PagerDutyWebhook, data, "PagerDuty v3 webhook")
    return await run_in_threadpool(_record, request, from_pagerduty(hook))


@router.post("/generic", response_model=IntakeResponse, responses=ERRORS, openapi_extra=body_doc(GenericPayload))
async def generic(request: Request, who: Principal = Depends(require(Role.responder))) -> Response:
    """Generic alerts: `{"version": "1", "alerts": [{"name", "status", "severity", "service", "labels", ...}]}`."""
    data = parse_json(await read_body(request, request.app.state.runtime.config.max_body_bytes))
    check_version(data, "1", "generic")
    payload = validate(GenericPayload, data, "generic payload")
    alerts = from_generic(payload)
    refuse_reserved_fingerprints(alerts)
    return await run_in_threadpool(_record, request, alerts)
