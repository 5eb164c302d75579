"""Accounts of the service: roles, scopes and argon2 password hashes.

Roles: ``admin`` (everything), ``planner`` (communities whose code starts with one of the scope
entries: a 6-digit district, 9-digit street or 12-digit community code) and ``worker`` (the
grids listed in the scope, by grid code). Anonymous callers have no account.
"""

from __future__ import annotations

import re
from dataclasses import dataclass
from datetime import UTC, datetime

from argon2 import PasswordHasher
from argon2.exceptions import InvalidHashError, VerificationError
from sqlalchemy import Column, DateTime, String, Table, bindparam, insert, select
from sqlalchemy.orm import Session

from gridsvc.errors import InputError, Problem
from gridsvc.store.tables import Base

__all__ = ["ROLES", "User", "add_user", "authenticate", "get_user", "list_users", "users_table"]

ROLES = ("admin", "planner", "worker")
_NAME = re.compile(r"^[A-Za-z0-9_.@-]{1,64}$")
_CODE = re.compile(r"^\d{6,17}$")
_hasher = PasswordHasher()

users_table = Table(
    "users",
    Base.metadata,
    Column("username", String(64), primary_key=True),
    Column("password_hash", String, nullable=False),
    Column("role", String(16), nullable=False),
    Column("scope", String, nullable=False, server_default=""),
    Column("worker_id", String),
    Column("created_at", DateTime(timezone=True)),
)


@dataclass(frozen=True, slots=True)
class User:
    """An account: its role and the code prefixes (planner) or grid codes (worker) it may see."""

    username: str
    role: str
    scope: tuple[str, ...] = ()
    worker_id: str | None = None

    def covers(self, community: str) -> bool:
        """Say whether this account may see and edit ``community`` (a 12-digit code)."""
        if self.role == "admin":
            return True
        if self.role == "planner":
            return any(community.startswith(prefix) for prefix in self.scope)
        return False


def _validate(username: str, password: str, role: str, scope: tuple[str, ...]) -> None:
    problems = []
    if not _NAME.match(username):
        problems.append(
            Problem(f"username {username!r} must be 1–64 letters, digits or _.@-", field="username")
        )
    if len(password) < 8:
        problems.append(Problem("password must have at least 8 characters", field="password"))
    if role not in ROLES:
        problems.append(Problem(f"role {role!r} is not one of {', '.join(ROLES)}", field="role"))
    bad = [s for s in scope if not _CODE.match(s)]
    if bad:
        problems.append(
            Problem(f"scope entries {bad} are not 6–17-digit division or grid codes", field="scope")
        )
    if role in ("planner", "worker") and not scope:
        problems.append(Problem(f"a {role} needs a scope (codes it may see)", field="scope"))
    if problems:
        raise InputError(problems)


def add_user(
    session: Session,
    *,
    username: str,
    password: str,
    role: str,
    scope: tuple[str, ...] = (),
    worker_id: str | None = None,
) -> User:
    """Create an account with an argon2 hash of ``password``; refuse an existing username."""
    scope = tuple(s.strip() for s in scope if s.strip())
    _validate(username, password, role, scope)
    if get_user(session, username) is not None:
        raise InputError(Problem(f"user {username!r} already exists", field="username"))
    session.execute(
        insert(users_table).values(
            username=username,
            password_hash=_hasher.hash(password),
            role=role,
            scope=";".join(scope),
            worker_id=worker_id,
            created_at=datetime.now(UTC),
        )
    )
    return User(username, role, scope, worker_id)


def _user(row: object) -> User:
    scope = tuple(s for s in (row.scope or "").split(";") if s)  # type: ignore[attr-defined]
    return User(row.username, row.role, scope, row.worker_id)  # type: ignore[attr-defined]


_BY_NAME = select(users_table).where(users_table.c.username == bindparam("username"))


def get_user(session: Session, username: str) -> User | None:
    """Return the account ``username`` or None (every signed-in request reads it: one statement
    built once, run on the session's connection, see :mod:`gridsvc.store.lookup`)."""
    row = session.connection().execute(_BY_NAME, {"username": username}).first()
    return None if row is None else _user(row)


def list_users(session: Session) -> list[User]:
    """Return every account, by username."""
    rows = session.execute(select(users_table).order_by(users_table.c.username)).all()
    return [_user(r) for r in rows]


def authenticate(session: Session, *, username: str, password: str) -> User | None:
    """Return the account if ``password`` matches its hash, else None."""
    row = session.execute(select(users_table).where(users_table.c.username == username)).first()
    if row is None:
        _hasher.hash(password)  # spend the same time whether or not the user exists
        return None
    try:
        _hasher.verify(row.password_hash, password)
    except (VerificationError, InvalidHashError):
        return None
    return _user(row)
