"""`POST /webhooks/changes`: deploy and config events (generic JSON, Argo CD notifications, GitHub deployment_status)."""

from __future__ import annotations

import hashlib
import hmac
import os
from typing import Any

from fastapi import APIRouter, HTTPException, Request
from fastapi.concurrency import run_in_threadpool
from fastapi.security import HTTPAuthorizationCredentials
from pydantic import BaseModel

from lumos.app.server.auth import bearer, require
from lumos.app.server.bodies import parse_json, read_body
from lumos.app.server.config import Role
from lumos.tools.live.changeformats import ChangeFormatError, parse_changes

router = APIRouter(prefix="/webhooks", tags=["webhooks"])
FORMATS = ("generic", "argocd", "github")


class ChangesResponse(BaseModel):
    """What the webhook stored: events received, new ones, and events that were not changes."""

    received: int
    stored: int
    ignored: int


def _github_signature_ok(request: Request, body: bytes) -> bool:
    """A valid X-Hub-Signature-256 for the secret that `sources.changes.github_secret_env` names."""
    live = request.app.state.runtime.resources.live
    conf = live.config.sources.changes if live else None
    secret = os.environ.get(conf.github_secret_env or "") if conf and conf.github_secret_env else None
    given = request.headers.get("x-hub-signature-256", "")
    if not secret or not given:
        return False
    expected = "sha256=" + hmac.new(secret.encode(), body, hashlib.sha256).hexdigest()
    return hmac.compare_digest(expected, given)


@router.post("/changes", response_model=ChangesResponse, responses={
    400: {"description": "Malformed JSON"}, 401: {"description": "Missing or unknown token / bad GitHub signature"},
    404: {"description": "No live stack with sources.changes"}, 422: {"description": "Not a change event of the format"}})
async def changes(request: Request, format: str | None = None) -> ChangesResponse:  # noqa: A002 - the query parameter's name
    """Store change events. `?format=generic` (default), `argocd` or `github` (also chosen by `X-GitHub-Event:
    deployment_status`). Bearer token with the responder role, or for GitHub a valid X-Hub-Signature-256."""
    rt = request.app.state.runtime
    fmt = format or ("github" if request.headers.get("x-github-event") else "generic")
    if fmt not in FORMATS:
        raise HTTPException(422, f"unknown format {fmt[:40]!r}; expected one of {', '.join(FORMATS)}")
    body = await read_body(request, rt.config.max_body_bytes)
    if not (fmt == "github" and _github_signature_ok(request, body)):
        creds: HTTPAuthorizationCredentials | None = await bearer(request)
        await require(Role.responder)(request, creds)
    live = rt.resources.live
    if live is None or live.config.sources.changes is None or not live.config.sources.changes.webhook:
        raise HTTPException(404, "the changes webhook is off: start lumos serve --config with sources.changes (webhook: true)")
    if fmt == "github" and request.headers.get("x-github-event", "deployment_status") not in ("deployment_status", "ping"):
        return ChangesResponse(received=1, stored=0, ignored=1)
    data: Any = parse_json(body)
    if fmt == "github" and isinstance(data, dict) and "zen" in data:  # GitHub's ping when the hook is created
        return ChangesResponse(received=1, stored=0, ignored=1)
    try:
        found = parse_changes(data, fmt)  # type: ignore[arg-type]
    except ChangeFormatError as exc:
        raise HTTPException(422, {"message": str(exc), "problems": [{"field": f, "message": m} for f, m in exc.problems]}) from None
    stored = await run_in_threadpool(live.stack.changes.add, found)
    received = len(data["changes"]) if fmt == "generic" and isinstance(data.get("changes"), list) else 1
    return ChangesResponse(received=received, stored=stored, ignored=received - len(found))
