"""Grid locks of a draft: list them, lock a base grid, unlock it (its holder or an admin).

A grid locked by one planner is refused (423, naming the grid and its holder) to every other
planner's edit, and "fix this grid" never changes a locked grid, whoever holds it.
"""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, Path, Response

from ... import grid_locks
from ..deps import PlannerDep, SessionDep
from .plans import PlanId, open_plan

__all__ = ["router"]

router = APIRouter(tags=["editor"])
GridCode = Annotated[str, Path(pattern=r"^\d{15}$", description="a base grid code")]


@router.get("/plans/{plan_id}/locks")
def list_locks(plan_id: PlanId, session: SessionDep, user: PlannerDep) -> list[dict[str, Any]]:
    """The plan's locked grids: grid, who holds it (``locked_by``) and since when."""
    open_plan(session, plan_id, user)
    return [lock.as_dict() for lock in grid_locks.read_locks(session, plan_id)]


@router.put("/plans/{plan_id}/locks/{code}")
def lock(
    plan_id: PlanId, code: GridCode, response: Response, session: SessionDep, user: PlannerDep
) -> dict[str, Any]:
    """Lock base grid ``code`` of a draft for the caller: 201 when new, 200 when the caller
    holds it already, 423 when someone else does."""
    open_plan(session, plan_id, user)
    held, new = grid_locks.lock_grid(session, plan_id, code, user=user.username)
    response.status_code = 201 if new else 200
    return held.as_dict()


@router.delete("/plans/{plan_id}/locks/{code}")
def unlock(
    plan_id: PlanId, code: GridCode, session: SessionDep, user: PlannerDep
) -> dict[str, Any]:
    """Unlock grid ``code``; answers the lock removed. Only its holder or an admin may (423)."""
    open_plan(session, plan_id, user)
    held = grid_locks.unlock_grid(
        session, plan_id, code, user=user.username, admin=user.role == "admin"
    )
    return held.as_dict()
