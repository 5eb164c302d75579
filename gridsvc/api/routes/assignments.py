"""Staffing assignments as JSON: planners and admins within scope, workers their own rows."""

from __future__ import annotations

from typing import Annotated, Any

from fastapi import APIRouter, HTTPException, Query

from ...store.assignments import read_assignments
from ..deps import SessionDep, UserDep, require_community
from ..scope import community_mask

__all__ = ["router"]

router = APIRouter(tags=["assignments"])
CommunityQuery = Annotated[
    str | None, Query(pattern=r"^\d{12}$", description="12-digit community code")
]
WorkerQuery = Annotated[str | None, Query(min_length=1, max_length=64, description="worker id")]


@router.get("/assignments")
def list_assignments(
    session: SessionDep, user: UserDep, community: CommunityQuery = None, worker: WorkerQuery = None
) -> dict[str, Any]:
    """Who serves which grid in which role; a worker sees only his own assignments."""
    if user.role == "worker":
        if user.worker_id is None:
            raise HTTPException(403, f"account {user.username!r} is linked to no worker id")
        if worker is not None and worker != user.worker_id:
            raise HTTPException(
                403,
                f"worker {user.username!r} may see only his own "
                f"assignments (worker {user.worker_id})",
            )
        worker = user.worker_id
    elif community is not None:
        require_community(user, community)
    rows = read_assignments(session, community=community, worker=worker)
    if user.role == "planner":
        rows = rows[community_mask(user, rows["community_code"]).to_numpy()]
    items = [
        {**r, "kept": bool(r["kept"]), "assigned_at": r["assigned_at"].isoformat()}
        for r in rows.astype({"kept": object}).to_dict("records")
    ]
    return {"items": items, "count": len(items)}
