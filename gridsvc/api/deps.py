"""FastAPI dependencies as type aliases: settings, session, the caller and their rights."""

from __future__ import annotations

from collections.abc import Iterator
from typing import Annotated

import jwt
from fastapi import Depends, HTTPException, Request
from fastapi.security import OAuth2PasswordBearer
from sqlalchemy.orm import Session

from ..config import Settings
from ..store import session_scope
from ..store.users import User, get_user

__all__ = [
    "AdminDep",
    "CallerDep",
    "PlannerDep",
    "SessionDep",
    "SettingsDep",
    "UserDep",
    "get_session",
    "get_settings",
    "require_community",
    "require_planner",
]

ALGORITHM = "HS256"
_bearer = OAuth2PasswordBearer(tokenUrl="/api/v1/token", auto_error=False)
_CHALLENGE = {"WWW-Authenticate": "Bearer"}


def get_settings(request: Request) -> Settings:
    return request.app.state.settings  # type: ignore[no-any-return]


def get_session(request: Request) -> Iterator[Session]:
    with session_scope(request.app.state.engine) as session:
        yield session


SettingsDep = Annotated[Settings, Depends(get_settings)]
# scope="function": the session commits when the handler returns, before the answer is sent.
# FastAPI's default ends a dependency after the response: a client then got 201 before its
# write was committed (the editor's next GET of the new plan found none: 404), and a commit
# that failed (a conflict, a read-only store changed under the read) was never reported.
SessionDep = Annotated[Session, Depends(get_session, scope="function")]


def get_caller(
    request: Request, session: SessionDep, token: Annotated[str | None, Depends(_bearer)]
) -> User | None:
    """Return the account behind the bearer token (None when anonymous); 401 on a bad token."""
    if token is None:
        return None
    try:
        claims = jwt.decode(
            token,
            request.app.state.secret_key,
            algorithms=[ALGORITHM],
            options={"require": ["sub", "exp"]},
        )
    except jwt.ExpiredSignatureError:
        raise HTTPException(401, "the token has expired; log in again", _CHALLENGE) from None
    except jwt.InvalidTokenError as exc:
        raise HTTPException(401, f"the token is invalid ({exc})", _CHALLENGE) from None
    user = get_user(session, str(claims["sub"]))
    if user is None:
        raise HTTPException(401, f"user {claims['sub']!r} no longer exists", _CHALLENGE)
    return user


CallerDep = Annotated[User | None, Depends(get_caller)]


def require_user(caller: CallerDep) -> User:
    """Return the logged-in account; 401 for anonymous callers."""
    if caller is None:
        raise HTTPException(
            401,
            "log in first: POST /api/v1/token, then send 'Authorization: Bearer <token>'",
            _CHALLENGE,
        )
    return caller


UserDep = Annotated[User, Depends(require_user)]


def require_planner(user: UserDep) -> User:
    """Return an admin or planner account; 403 for workers."""
    if user.role not in ("admin", "planner"):
        raise HTTPException(
            403, f"user {user.username!r} is a {user.role}; only planners and admins may do this"
        )
    return user


def require_admin(user: UserDep) -> User:
    """Return an admin account; 403 otherwise."""
    if user.role != "admin":
        raise HTTPException(
            403, f"user {user.username!r} is a {user.role}; only admins may do this"
        )
    return user


PlannerDep = Annotated[User, Depends(require_planner)]
AdminDep = Annotated[User, Depends(require_admin)]


def require_community(user: User, community: str) -> None:
    """Refuse (403) a planner or worker acting on a community outside their scope."""
    if user.role == "worker":
        if not any(code.startswith(community) for code in user.scope):
            raise HTTPException(
                403, f"worker {user.username!r} serves no grid of community {community}"
            )
        return
    if not user.covers(community):
        raise HTTPException(
            403,
            f"user {user.username!r} may not act on community {community}; "
            f"their scope is {', '.join(user.scope) or 'empty'}",
        )
