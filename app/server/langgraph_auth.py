"""LangGraph Server / `langgraph dev` authentication: the same bearer tokens and roles as `lumos serve`.

Declared in langgraph.json (`"auth": {"path": "./app/server/langgraph_auth.py:auth"}`). Tokens come from
LUMOS_API_TOKENS (name:role[+group...]:token); no token, no access -- with no tokens configured every
request is refused, so the graph is never served anonymously. Roles map to the server's rules:

* viewer: read threads, runs, state and assistants;
* responder: also start incidents (create threads and runs with an input);
* approver: also resume a gate (a run whose command is `{"resume": ...}`); the gate then takes the
  approver's name and group from the token, never from the payload (see graph/gate_nodes.py);
* admin: also edit thread state, cancel runs, delete threads, manage assistants, crons and the store.

Alert text in a new run's input, and a resume value's free text, are redacted before LangGraph stores them
(both are checkpointed as they are).
"""

from __future__ import annotations

import os
from typing import Any

from langgraph_sdk import Auth

from lumos.app.server.auth import Principal, TokenBook
from lumos.app.server.config import Role, parse_tokens
from lumos.tools.redact import redact_value

auth = Auth()
TOKENS = TokenBook(parse_tokens(os.environ.get("LUMOS_API_TOKENS", "")))
"""Built once when LangGraph loads this file (a bad LUMOS_API_TOKENS stops the server with the variable named)."""

APPROVE = "incidents:approve"


def permissions(principal: Principal) -> list[str]:
    """The permission strings of a principal: one per role it includes, plus incidents:approve for approvers."""
    granted = [f"role:{role.name}" for role in Role if role <= principal.role]
    return granted + ([APPROVE] if principal.role >= Role.approver else [])


@auth.authenticate
async def authenticate(authorization: str | None) -> Auth.types.MinimalUserDict:
    """Admit a request carrying `Authorization: Bearer <token>` of a LUMOS_API_TOKENS entry."""
    scheme, _, token = (authorization or "").partition(" ")
    if scheme.lower() != "bearer" or not token.strip():
        raise Auth.exceptions.HTTPException(status_code=401, detail="missing bearer token (Authorization: Bearer <token>)")
    principal = TOKENS.lookup(token.strip())
    if principal is None:
        raise Auth.exceptions.HTTPException(status_code=401, detail="unknown or revoked token")
    return {"identity": principal.name, "display_name": principal.name, "permissions": permissions(principal),
            "role": principal.role.name, "groups": list(principal.groups)}


def _needs(ctx: Auth.types.AuthContext, role: Role, what: str) -> None:
    if f"role:{role.name}" not in ctx.permissions:
        raise Auth.exceptions.HTTPException(status_code=403, detail=f"{ctx.user.identity} may not {what}; needs role {role.name} or above")


@auth.on.threads.create_run
async def create_run(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Starting an incident needs a responder; resuming a gate needs an approver; steering the graph needs an admin."""
    kwargs: dict[str, Any] = value.get("kwargs") or {}
    command = kwargs.get("command") or {}
    if command.get("update") is not None or command.get("goto"):
        _needs(ctx, Role.admin, "send a command that writes state or jumps to a node")
    if command.get("resume") is not None:
        _needs(ctx, Role.approver, "answer an approval gate")
    else:
        _needs(ctx, Role.responder, "start or continue an incident")
    if isinstance(kwargs.get("input"), dict):
        kwargs["input"] = redact_value(kwargs["input"])
    if isinstance(command, dict) and command.get("resume") is not None:
        command["resume"] = redact_value(command["resume"])


@auth.on.threads.create
async def create_thread(ctx: Auth.types.AuthContext, value: Any) -> None:
    """A thread is an incident: responders open them."""
    _needs(ctx, Role.responder, "open an incident thread")


@auth.on.threads.read
async def read_thread(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Every token may read incidents."""
    _needs(ctx, Role.viewer, "read incidents")


@auth.on.threads.search
async def search_threads(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Every token may list incidents."""
    _needs(ctx, Role.viewer, "list incidents")


@auth.on.assistants.read
async def read_assistant(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Every token may read the graph's assistant."""
    _needs(ctx, Role.viewer, "read assistants")


@auth.on.assistants.search
async def search_assistants(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Every token may list assistants."""
    _needs(ctx, Role.viewer, "list assistants")


@auth.on
async def everything_else(ctx: Auth.types.AuthContext, value: Any) -> None:
    """Editing thread state, cancelling runs, deleting threads, assistants, crons and the store: admins only."""
    _needs(ctx, Role.admin, f"{ctx.action} {ctx.resource}")
