"""Tokens (OAuth2 password flow), the caller's account, accounts and the audit log (admins)."""

from __future__ import annotations

from datetime import UTC, datetime, timedelta
from typing import Annotated, Any

import jwt
from fastapi import APIRouter, Depends, HTTPException, Query, Request
from fastapi.security import OAuth2PasswordRequestForm
from pydantic import BaseModel, Field

from ...store import audit, users
from ..deps import ALGORITHM, AdminDep, SessionDep, SettingsDep, UserDep

__all__ = ["router"]

router = APIRouter(tags=["auth"])


class Token(BaseModel):
    access_token: str
    token_type: str = "bearer"
    expires_in: int


class NewUser(BaseModel):
    username: str = Field(min_length=1, max_length=64)
    password: str = Field(min_length=8, max_length=256)
    role: str = Field(pattern="^(admin|planner|worker)$")
    scope: list[Annotated[str, Field(pattern=r"^\d{6,17}$")]] = Field(default=[], max_length=500)
    worker_id: str | None = Field(default=None, max_length=200)


def _account(user: users.User) -> dict[str, Any]:
    return {
        "username": user.username,
        "role": user.role,
        "scope": list(user.scope),
        "worker_id": user.worker_id,
    }


@router.post("/token", response_model=Token)
def login(
    request: Request,
    session: SessionDep,
    settings: SettingsDep,
    form: Annotated[OAuth2PasswordRequestForm, Depends()],
) -> Token:
    """Exchange a username and password for a signed bearer token."""
    user = users.authenticate(session, username=form.username, password=form.password)
    if user is None:
        raise HTTPException(401, "wrong username or password", {"WWW-Authenticate": "Bearer"})
    now = datetime.now(UTC)
    claims = {
        "sub": user.username,
        "role": user.role,
        "iat": now,
        "exp": now + timedelta(minutes=settings.token_minutes),
    }
    token = jwt.encode(claims, request.app.state.secret_key, algorithm=ALGORITHM)
    return Token(access_token=token, expires_in=settings.token_minutes * 60)


@router.get("/me")
def me(user: UserDep) -> dict[str, Any]:
    """The caller's account: role and scope."""
    return _account(user)


@router.get("/users")
def list_accounts(session: SessionDep, admin: AdminDep) -> list[dict[str, Any]]:
    """Every account (admins only)."""
    return [_account(u) for u in users.list_users(session)]


@router.post("/users", status_code=201)
def create_account(body: NewUser, session: SessionDep, admin: AdminDep) -> dict[str, Any]:
    """Create an account (admins only)."""
    user = users.add_user(
        session,
        username=body.username,
        password=body.password,
        role=body.role,
        scope=tuple(body.scope),
        worker_id=body.worker_id,
    )
    audit.record(
        session,
        user=admin.username,
        action="user.add",
        target=f"user/{user.username}",
        after=_account(user),
    )
    return _account(user)


@router.get("/audit")
def audit_log(
    session: SessionDep,
    admin: AdminDep,
    target: Annotated[str | None, Query(max_length=200)] = None,
    limit: Annotated[int, Query(ge=1, le=1000)] = 100,
    offset: Annotated[int, Query(ge=0, le=10_000_000)] = 0,
) -> dict[str, Any]:
    """The audit log, newest first (admins only)."""
    items, total = audit.entries(session, target=target, limit=limit, offset=offset)
    return {"items": items, "numberMatched": total}
