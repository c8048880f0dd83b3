"""Bearer-key authentication, roles and the per-key rate limit, as FastAPI dependencies."""

from __future__ import annotations

from fastapi import Depends, HTTPException, Request
from fastapi.security import HTTPAuthorizationCredentials, HTTPBearer

from server.keys import Principal

_bearer = HTTPBearer(auto_error=False, description="An API key from `clinrag keys add`.")


# async: these are cheap, and sync dependencies would each take a trip through the thread pool.
async def authenticated(request: Request,
                  credentials: HTTPAuthorizationCredentials | None = Depends(_bearer)
                  ) -> Principal:
    if credentials is None:
        raise HTTPException(401, "missing API key (Authorization: Bearer KEY)",
                            headers={"WWW-Authenticate": "Bearer"})
    keys = request.app.state.keys
    keys.refresh()
    principal = keys.lookup(credentials.credentials)
    if principal is None:
        raise HTTPException(401, "invalid API key", headers={"WWW-Authenticate": "Bearer"})
    request.state.principal = principal
    return principal


async def reader(request: Request, principal: Principal = Depends(authenticated)) -> Principal:
    """Any valid key, within its rate limit."""
    wait = request.app.state.limiter.check(principal.key_id)
    if wait:
        raise HTTPException(429, f"rate limit exceeded for key {principal.key_id}; retry "
                            f"after {wait} s", headers={"Retry-After": str(wait)})
    return principal


async def admin(principal: Principal = Depends(reader)) -> Principal:
    if not principal.is_admin:
        raise HTTPException(403, "this needs an admin key")
    return principal
