"""Grid locks of plans in the store: one row per (plan, grid code) saying who holds it since when.

A lock keeps a grid of a draft out of other planners' edits and out of "fix this grid"; the
rules live in :mod:`gridsvc.grid_locks`, these functions only read and write rows (in the
caller's transaction).
"""

from __future__ import annotations

from collections.abc import Iterable
from dataclasses import dataclass
from datetime import UTC, datetime
from typing import Any

from sqlalchemy import Column, DateTime, Integer, String, Table, delete, insert, select
from sqlalchemy.exc import IntegrityError
from sqlalchemy.orm import Session

from gridsvc.store.tables import Base, utc

__all__ = ["GridLock", "add_lock", "locks_table", "read_locks", "remove_locks"]

locks_table = Table(
    "plan_locks",
    Base.metadata,
    Column("plan_id", Integer, primary_key=True),
    Column("grid_code", String(40), primary_key=True),
    Column("username", String(64), nullable=False),
    Column("locked_at", DateTime(timezone=True), nullable=False),
)


@dataclass(frozen=True, slots=True)
class GridLock:
    """Grid ``grid`` of plan ``plan_id`` is locked by ``user`` since ``at`` (UTC)."""

    plan_id: int
    grid: str
    user: str
    at: datetime

    def as_dict(self) -> dict[str, Any]:
        return {
            "plan": self.plan_id,
            "grid": self.grid,
            "locked_by": self.user,
            "locked_at": self.at.isoformat(),
        }


def _lock(row: Any) -> GridLock:
    return GridLock(int(row.plan_id), str(row.grid_code), str(row.username), utc(row.locked_at))


def read_locks(session: Session, plan_id: int) -> list[GridLock]:
    """Return the locks of plan ``plan_id``, by grid code."""
    t = locks_table
    rows = session.execute(select(t).where(t.c.plan_id == plan_id).order_by(t.c.grid_code)).all()
    return [_lock(r) for r in rows]


def add_lock(session: Session, plan_id: int, grid: str, *, user: str) -> GridLock | None:
    """Lock ``grid`` of plan ``plan_id`` for ``user``; return the new lock, or None when the
    grid is locked already (by anyone, even by a concurrent writer a moment ago)."""
    now = datetime.now(UTC)
    try:
        with session.begin_nested():
            session.execute(
                insert(locks_table).values(
                    plan_id=plan_id, grid_code=grid, username=user, locked_at=now
                )
            )
    except IntegrityError:
        return None
    return GridLock(plan_id, grid, user, now)


def remove_locks(session: Session, plan_id: int, grids: Iterable[str]) -> int:
    """Remove the locks on ``grids`` of plan ``plan_id``; return how many there were."""
    codes = list(grids)
    if not codes:
        return 0
    t = locks_table
    result = session.execute(delete(t).where(t.c.plan_id == plan_id, t.c.grid_code.in_(codes)))
    return int(result.rowcount)  # type: ignore[attr-defined]
