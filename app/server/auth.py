"""Bearer-token authentication with roles; tokens are compared in constant time."""

from __future__ import annotations

import hashlib
import hmac
from collections.abc import Callable

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer
from pydantic import BaseModel

from lumos.app.server.config import ApiToken, Role

bearer = HTTPBearer(auto_error=False, description="An API token from LUMOS_API_TOKENS (name:role:token).")


class Principal(BaseModel):
    """Who called: the token's name (recorded in the audit trail) and role."""

    name: str
    role: Role
    groups: list[str] = []


class TokenBook:
    """The configured tokens; lookup digests every candidate so timing does not reveal a match."""

    def __init__(self, tokens: list[ApiToken]):
        self._entries = [(hashlib.sha256(t.token.encode()).digest(), Principal(name=t.name, role=t.role, groups=list(t.groups))) for t in tokens]

    def lookup(self, presented: str) -> Principal | None:
        """The principal holding `presented`, comparing against every token in constant time."""
        digest = hashlib.sha256(presented.encode()).digest()
        found: Principal | None = None
        for expected, principal in self._entries:
            if hmac.compare_digest(digest, expected) and found is None:
                found = principal
        return found


def require(role: Role) -> Callable[..., Principal]:
    """A FastAPI dependency that admits callers whose token has at least `role`."""

    async def dependency(request: Request, creds: HTTPAuthorizationCredentials | None = Depends(bearer)) -> Principal:
        if creds is None or creds.scheme.lower() != "bearer":
            raise HTTPException(401, "missing bearer token (Authorization: Bearer <token>)", headers={"WWW-Authenticate": "Bearer"})
        principal = request.app.state.tokens.lookup(creds.credentials)
        if principal is None:
            raise HTTPException(401, "unknown or revoked token", headers={"WWW-Authenticate": "Bearer"})
        if principal.role < role:
            raise HTTPException(403, f"role {principal.role.name} may not do this; needs {role.name} or above")
        return principal

    return dependency
